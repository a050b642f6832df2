package dev.capsulevm.bench.runner;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What an experiment found: a table (first row the header), charts of named series of (x, y) points,
 * and findings in prose, each computed from the measurements and stating the goal it is measured against.
 */
final class Result {
  final String title;
  final String method;
  final List<List<String>> table = new ArrayList<>();
  final List<Chart> charts = new ArrayList<>();
  final List<String> findings = new ArrayList<>();
  /** Extra files the report writes beside the table, by name (an SVG chart), each shown as an image. */
  final Map<String, String> images = new LinkedHashMap<>();

  Result(String title, String method) {
    this.title = title;
    this.method = method;
  }

  /** A chart's axes and series; axes marked log are logarithmic (base 2 for x, base 10 for y). */
  static final class Chart {
    final String title;
    final String xLabel;
    final boolean logX;
    final String yLabel;
    final boolean logY;
    final Map<String, List<double[]>> series = new LinkedHashMap<>();

    Chart(String title, String xLabel, boolean logX, String yLabel, boolean logY) {
      this.title = title;
      this.xLabel = xLabel;
      this.logX = logX;
      this.yLabel = yLabel;
      this.logY = logY;
    }

    Chart point(String seriesName, double x, double y) {
      series.computeIfAbsent(seriesName, k -> new ArrayList<>()).add(new double[] {x, y});
      return this;
    }
  }

  Result header(String... cells) {
    table.add(List.of(cells));
    return this;
  }

  Result row(Object... cells) {
    List<String> row = new ArrayList<>();
    for (Object cell : cells) {
      row.add(String.valueOf(cell));
    }
    table.add(row);
    return this;
  }

  Chart chart(String chartTitle, String x, boolean logX, String y, boolean logY) {
    Chart chart = new Chart(chartTitle, x, logX, y, logY);
    charts.add(chart);
    return chart;
  }

  /** Adds an image the experiment drew itself (SVG text), written as {@code fileName} and shown in the table's page. */
  Result image(String fileName, String svg) {
    images.put(fileName, svg);
    return this;
  }

  Result finding(String text) {
    findings.add(text);
    return this;
  }
}
