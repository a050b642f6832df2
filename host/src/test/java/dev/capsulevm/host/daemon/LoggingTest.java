package dev.capsulevm.host.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

/** The daemon's log level and the bridge's one-line form of a java.util.logging record. */
class LoggingTest {
  @Test
  void levelsAreNamedAndABadOneIsRefusedNamingThem() {
    assertEquals("debug", Logging.parseLevel(" DEBUG "));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Logging.parseLevel("loud"));
    assertEquals("log-level: not one of trace, debug, info, warn, error, off: loud", e.getMessage());
    assertEquals(Level.FINE, Logging.julLevel("debug"));
    assertEquals(Level.WARNING, Logging.julLevel("warn"));
    assertEquals(Level.OFF, Logging.julLevel("off"));
  }

  @Test
  void aRecordWithAnExceptionBecomesOneLine() {
    // As grpc-java logs a message over the size limit; a quote and a brace in the text stay as they are.
    LogRecord record = new LogRecord(Level.WARNING, "Exception processing message {0}");
    record.setParameters(new Object[] {"on stream 3"});
    record.setLoggerName("io.grpc.netty.shaded.io.grpc.netty.NettyServerStream");
    record.setThrown(new IllegalStateException("gRPC message exceeds maximum size 8388608: 104857611 (it's {big})"));
    LogRecord line = Logging.OneLineBridge.oneLine(record);
    assertNull(line.getThrown());
    assertNull(line.getParameters());
    assertEquals("Exception processing message on stream 3: java.lang.IllegalStateException: gRPC message exceeds"
        + " maximum size 8388608: 104857611 (it's {big}) (stack trace with --log-level debug)", line.getMessage());
    assertEquals(record.getLoggerName(), line.getLoggerName());
    assertEquals(Level.WARNING, line.getLevel());
    assertEquals(1, line.getMessage().lines().count());
  }
}
