// The parts of ECharts the dashboard draws with (bundled by scripts/build_assets.py into
// static/vendor/echarts/echarts.portal.min.js): bar and pie charts on canvas, with their grid,
// axes, legend (plain and scrolling), title, tooltip, mark lines, toolbox (save as image) and
// aria. A chart that needs another part adds it here.
import * as echarts from "echarts/core";
import { BarChart, PieChart } from "echarts/charts";
import {
  AriaComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TitleComponent,
  ToolboxComponent,
  TooltipComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([
  BarChart, PieChart, AriaComponent, GridComponent, LegendComponent, MarkLineComponent,
  TitleComponent, ToolboxComponent, TooltipComponent, CanvasRenderer,
]);

// as the full build does: the page's script and ECharts' locale files find it here
window.echarts = echarts;
