// Entry of the separate chart bundle: registers the uPlot drawing for History (see chart-loader.ts).
import { drawHistory } from './chart';

(window as unknown as { alfasparkChart: unknown }).alfasparkChart = { drawHistory };
