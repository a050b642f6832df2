package dev.capsulevm.bench.runner;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.text.DecimalFormat;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Writes an experiment's result as {@code NAME.md} (table, findings, machine, command) and one PNG per
 * chart ({@code NAME.png}, {@code NAME-2.png}, ...).
 */
final class Report {
  private Report() {}

  static void write(Path directory, String name, Result result, Machine machine, String command)
      throws IOException {
    Files.createDirectories(directory);
    StringBuilder md = new StringBuilder();
    md.append("# ").append(result.title).append("\n\n");
    md.append(result.method).append("\n\n");
    for (int i = 0; i < result.charts.size(); i++) {
      md.append("![").append(result.charts.get(i).title).append("](").append(png(name, i)).append(")\n\n");
    }
    for (String image : result.images.keySet()) {
      md.append("![").append(result.title).append("](").append(image).append(")\n\n");
    }
    List<List<String>> table = result.table;
    if (!table.isEmpty()) {
      md.append(line(table.get(0)));
      md.append("|").append(" --- |".repeat(table.get(0).size())).append("\n");
      for (List<String> row : table.subList(1, table.size())) {
        md.append(line(row));
      }
      md.append("\n");
    }
    if (!result.findings.isEmpty()) {
      md.append("## Findings\n\n");
      for (String finding : result.findings) {
        md.append("- ").append(finding).append("\n");
      }
      md.append("\n");
    }
    md.append("## Run\n\n");
    md.append("- Machine: ").append(machine.describe()).append("\n");
    md.append("- Command: `").append(command).append("`\n");
    Files.writeString(directory.resolve(name + ".md"), md.toString(), StandardCharsets.UTF_8);
    for (Map.Entry<String, String> image : result.images.entrySet()) {
      Files.writeString(directory.resolve(image.getKey()), image.getValue(), StandardCharsets.UTF_8);
    }
    for (int i = 0; i < result.charts.size(); i++) {
      ChartUtils.saveChartAsPNG(directory.resolve(png(name, i)).toFile(), chart(result.charts.get(i)), 900, 560);
    }
  }

  private static String png(String name, int index) {
    return name + (index == 0 ? "" : "-" + (index + 1)) + ".png";
  }

  private static String line(List<String> cells) {
    return "| " + String.join(" | ", cells) + " |\n";
  }

  private static JFreeChart chart(Result.Chart result) {
    XYSeriesCollection data = new XYSeriesCollection();
    for (Map.Entry<String, List<double[]>> entry : result.series.entrySet()) {
      XYSeries series = new XYSeries(entry.getKey(), false, true);
      for (double[] point : entry.getValue()) {
        series.add(point[0], point[1]);
      }
      data.addSeries(series);
    }
    JFreeChart chart = ChartFactory.createXYLineChart(result.title, result.xLabel, result.yLabel, data,
        PlotOrientation.VERTICAL, true, false, false);
    XYPlot plot = chart.getXYPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    if (result.logX) {
      LogAxis axis = new LogAxis(result.xLabel);
      axis.setBase(2);
      axis.setTickUnit(new NumberTickUnit(1));
      axis.setNumberFormatOverride(new DecimalFormat("#,##0"));
      plot.setDomainAxis(axis);
    }
    if (result.logY) {
      LogAxis axis = new LogAxis(result.yLabel);
      axis.setNumberFormatOverride(new DecimalFormat("#,##0.#"));
      plot.setRangeAxis(axis);
    }
    XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
    for (int i = 0; i < data.getSeriesCount(); i++) {
      renderer.setSeriesStroke(i, new BasicStroke(2f));
    }
    plot.setRenderer(renderer);
    return chart;
  }
}
