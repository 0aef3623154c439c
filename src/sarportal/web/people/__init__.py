"""The people room: signing in, one's own account, and an admin's users.

signin.py   sign-in, second factor, sign-out, accepting an invitation (blueprint `auth`)
account.py  `/account`: sessions, password, second factor, tokens, language, time zone
admin.py    `/admin/users`: invitations, roles, provider credentials (blueprint `admin`)
"""
