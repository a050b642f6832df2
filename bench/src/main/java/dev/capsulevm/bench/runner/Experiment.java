package dev.capsulevm.bench.runner;

/** One experiment of the runner: measures, then returns its table, chart and findings. */
interface Experiment {
  /** The name on the command line and of the result files. */
  String name();

  /** The folder under the runner's {@code --out} its files go to; empty for the folder itself. */
  default String directory() {
    return "";
  }

  /** A one-line description for the listing. */
  String title();

  /** How many progress steps {@link #run} reports, for the progress bar. */
  int steps(boolean quick);

  Result run(boolean quick, Progress progress) throws Exception;
}
