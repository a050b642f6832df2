package dev.capsulevm.bench.runner;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code capsulevm bench [EXPERIMENT...] [--quick] [--out DIR]}: runs experiments and writes each one's
 * Markdown table and one PNG per chart ({@code NAME.png}, {@code NAME-2.png}, ...). Timings are medians of repeated whole-operation runs; micro-benchmarks
 * stay in JMH ({@code benchmarks.jar}).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Runs the experiments and writes a Markdown table and a PNG chart for each.")
public final class BenchRunner implements Callable<Integer> {
  private static final Map<String, Experiment> EXPERIMENTS = new LinkedHashMap<>();

  static {
    for (Experiment e : List.of(new SubRecordsExperiment(), new ProofCacheExperiment(), new ProofSizeExperiment(),
        new VerifiableCostExperiment(), new EndToEndExperiment(), new ParallelReadsExperiment(),
        new MeteringExperiment(), new SyncExperiment(), new ReplicateExperiment(), new SlotHoldExperiment(),
        new VsHypercoreExperiment(), new RetentionExperiment(), new PrivateExperiment(), new BigFileExperiment())) {
      EXPERIMENTS.put(e.name(), e);
    }
  }

  @Parameters(arity = "0..*", paramLabel = "EXPERIMENT", description = "Experiments to run (default: all).")
  List<String> names = new ArrayList<>();

  @Option(names = "--quick", description = "Smaller sizes: every experiment in a few minutes on 2 cores.")
  boolean quick;

  @Option(names = "--out", paramLabel = "DIR", description = "Where results go (default: ${DEFAULT-VALUE}).")
  Path out = Path.of("bench", "results");

  @Option(names = "--list", description = "Lists the experiments and exits.")
  boolean list;

  public static void main(String[] args) {
    System.setProperty("java.awt.headless", "true");
    // The in-process host logs each funding and program at INFO; the progress bar is the runner's output.
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    System.exit(new CommandLine(new BenchRunner()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    PrintStream err = System.err;
    if (list) {
      EXPERIMENTS.values().forEach(e -> System.out.println(e.name() + "\t" + e.title()));
      return 0;
    }
    List<Experiment> chosen = new ArrayList<>();
    for (String name : names.isEmpty() ? List.copyOf(EXPERIMENTS.keySet()) : names) {
      Experiment e = EXPERIMENTS.get(name);
      if (e == null) {
        err.println("unknown experiment '" + name + "'; known: " + String.join(", ", EXPERIMENTS.keySet()));
        return 2;
      }
      chosen.add(e);
    }
    int steps = chosen.stream().mapToInt(e -> e.steps(quick)).sum();
    Progress progress = new Progress(err, Progress.consoleIsTerminal(), steps);
    Machine machine = Machine.current();
    long start = System.nanoTime();
    for (Experiment e : chosen) {
      Result result = e.run(quick, progress);
      String command = properties(e.name()) + "bin/capsulevm bench " + e.name() + (quick ? " --quick" : "");
      Report.write(out.resolve(e.directory()), e.name() + (quick ? "-quick" : ""), result, machine, command);
    }
    System.out.printf("%d experiment(s) in %.0f s; results in %s%n", chosen.size(),
        (System.nanoTime() - start) / 1e9, out);
    return 0;
  }

  /** The experiment's own system properties ({@code -Dsync.seeds=3}) as they must be set to repeat a run. */
  private static String properties(String experiment) {
    List<String> set = new ArrayList<>();
    for (String key : new java.util.TreeSet<>(System.getProperties().stringPropertyNames())) {
      if (key.startsWith(experiment + ".")) {
        set.add("-D" + key + "=" + System.getProperty(key));
      }
    }
    return set.isEmpty() ? "" : "CAPSULEVM_JAVA_OPTS='" + String.join(" ", set) + "' ";
  }
}
