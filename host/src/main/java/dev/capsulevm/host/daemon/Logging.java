package dev.capsulevm.host.daemon;

import java.util.List;
import java.util.Locale;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.jspecify.annotations.Nullable;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * The daemon's logging: every line through SLF4J (slf4j-simple at run time) at the level chosen with
 * {@code --log-level}, java.util.logging included (grpc-java and Netty log there), so that the host's
 * log has one format. Below {@code debug} a JUL record's exception is written as one line (its class
 * and message) instead of a stack trace: grpc-java logs a 40-line trace for each oversized message.
 */
public final class Logging {
  /** The levels {@code --log-level} takes, most verbose first. */
  public static final List<String> LEVELS = List.of("trace", "debug", "info", "warn", "error", "off");

  private static final String SIMPLE_LEVEL = "org.slf4j.simpleLogger.defaultLogLevel";
  private static final String SIMPLE_SHOW_TIME = "org.slf4j.simpleLogger.showDateTime";
  private static final String SIMPLE_TIME_FORMAT = "org.slf4j.simpleLogger.dateTimeFormat";

  private Logging() {}

  /** {@code level} in lower case if it is one of {@link #LEVELS}; otherwise an error naming them. */
  public static String parseLevel(String level) {
    String lower = level.trim().toLowerCase(Locale.ROOT);
    if (!LEVELS.contains(lower)) {
      throw new IllegalArgumentException("log-level: not one of " + String.join(", ", LEVELS) + ": " + level);
    }
    return lower;
  }

  /**
   * Sets the level and installs the bridge. Takes effect for loggers made afterwards (slf4j-simple reads
   * its settings once, when the first logger is made), so the daemon calls it before starting the host;
   * a {@code -Dorg.slf4j.simpleLogger.defaultLogLevel} given to the JVM is kept when no level was asked for.
   *
   * @param levelOrNull one of {@link #LEVELS}, or null for the default ({@code info})
   */
  public static void configure(@Nullable String levelOrNull) {
    String level = levelOrNull != null ? parseLevel(levelOrNull)
        : parseLevel(System.getProperty(SIMPLE_LEVEL, "info"));
    System.setProperty(SIMPLE_LEVEL, level);
    if (System.getProperty(SIMPLE_SHOW_TIME) == null) {
      System.setProperty(SIMPLE_SHOW_TIME, "true");
      System.setProperty(SIMPLE_TIME_FORMAT, "yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
    }
    Logger root = LogManager.getLogManager().getLogger("");
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    boolean traces = level.equals("trace") || level.equals("debug");
    root.addHandler(new OneLineBridge(traces));
    root.setLevel(julLevel(level));
  }

  /** The JUL level that lets through what SLF4J at {@code level} would print. */
  static Level julLevel(String level) {
    return switch (level) {
      case "trace" -> Level.FINEST;
      case "debug" -> Level.FINE;
      case "info" -> Level.INFO;
      case "warn" -> Level.WARNING;
      case "error" -> Level.SEVERE;
      default -> Level.OFF;
    };
  }

  /** SLF4J's bridge, which folds a record's exception into its message unless stack traces are wanted. */
  static final class OneLineBridge extends SLF4JBridgeHandler {
    private final boolean traces;

    OneLineBridge(boolean traces) {
      this.traces = traces;
    }

    @Override
    public void publish(LogRecord record) {
      Throwable thrown = record.getThrown();
      if (thrown == null || traces) {
        super.publish(record);
        return;
      }
      super.publish(oneLine(record));
    }

    /** A copy of {@code record} whose message ends with its exception's one-line form, without the exception. */
    static LogRecord oneLine(LogRecord record) {
      // Formatted here (parameters, resource bundle), so nothing in the exception's text is read as a pattern.
      String message = new SimpleFormatter().formatMessage(record);
      LogRecord copy = new LogRecord(record.getLevel(), message + ": " + record.getThrown()
          + " (stack trace with --log-level debug)");
      copy.setLoggerName(record.getLoggerName());
      copy.setSourceClassName(record.getSourceClassName());
      copy.setSourceMethodName(record.getSourceMethodName());
      copy.setInstant(record.getInstant());
      return copy;
    }
  }
}
