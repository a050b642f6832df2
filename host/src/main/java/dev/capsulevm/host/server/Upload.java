package dev.capsulevm.host.server;

import dev.capsulevm.program.ProgramException;
import dev.capsulevm.vm.ProgramData;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The program data of one Execute call on its way in, the inbound flow control that paces it, and the
 * watch on a renter that stalls it.
 *
 * <p>The call requests one message at a time (automatic requests are off). A data chunk that does not
 * fit under the program's buffer limit is held (one chunk at most) and retried as the executor releases
 * data, and no further message is requested until it fits, so gRPC's window pushes back on the renter.
 * A program on a program stream is not paced this way (its {@code requestNext} does nothing): a chunk
 * arriving while another is held fails the program with {@link EndReason#DATA}.
 *
 * <p>Stalls. While the host waits for a data message it asked for (none held back by flow control), the
 * renter has {@code firstDataTimeout} to send the first one after the header and {@code dataTimeout} for
 * each one after that; then the call is aborted with {@link EndReason#DATA_LATE} (DEADLINE_EXCEEDED) and
 * the program's slot is free again. Time the host itself holds the data back does not count.
 *
 * <p>Its monitor guards only its own fields and it calls nothing of the call's while holding it, so the
 * call may hold its own monitor when it calls in here, never the reverse.
 */
final class Upload {
  private static final long RETRY_MILLIS = 2;

  /** How long the renter may keep the host waiting for the first data message, and for each later one. */
  record Deadlines(Duration firstData, Duration data) {
    static Deadlines of(HostConfig config) {
      return new Deadlines(config.firstDataTimeout(), config.dataTimeout());
    }
  }

  private final ProgramData data;
  private final ScheduledExecutorService scheduler;
  private final Runnable requestNext;
  private final BiConsumer<EndReason, String> abort;
  private final Deadlines deadlines;
  private final LongSupplier nanoTime;
  private long received;
  private byte @Nullable [] held;
  private boolean stopped;
  /** Whether any data message arrived. */
  private boolean started;
  /** When the host last asked for a data message it has not received ({@link #nanoTime}). */
  private long waitingSince;

  /**
   * @param requestNext asks gRPC for the next request message
   * @param abort stops the call for a reason found here (a chunk over the declared length, a retry the
   *     host cannot schedule, a stalled renter)
   * @param nanoTime the clock of the stall watch ({@link System#nanoTime()}; tests move their own)
   */
  Upload(long declaredLength, long maxBufferedBytes, ScheduledExecutorService scheduler, Runnable requestNext,
      BiConsumer<EndReason, String> abort, Deadlines deadlines, LongSupplier nanoTime) {
    this.data = new ProgramData(declaredLength, Math.max(1, Math.min(maxBufferedBytes, declaredLength)));
    this.scheduler = scheduler;
    this.requestNext = requestNext;
    this.abort = abort;
    this.deadlines = deadlines;
    this.nanoTime = nanoTime;
    this.waitingSince = nanoTime.getAsLong();
  }

  /** What the executor reads the program's data from. */
  ProgramData data() {
    return data;
  }

  /** Takes the next chunk of data, already charged; the next message is requested once it is buffered. */
  void offer(byte[] chunk) {
    long declared = data.declaredLength();
    String problem = null;
    EndReason reason = EndReason.PROTOCOL;
    synchronized (this) {
      if (stopped) {
        return;
      }
      if (held != null) {
        // Only on a program stream, which does not pace one program's data (an Execute call asks for no
        // message while a chunk is held): the renter sent more than the host buffers for the program.
        reason = EndReason.DATA;
        problem = "program data over the buffer limit: a chunk of " + chunk.length + " bytes at offset "
            + (received + held.length) + " arrived while " + held.length + " bytes still waited for room under "
            + data.maxBufferedBytes() + " bytes buffered (maxBufferedBytes); a program stream does not pace a"
            + " program's data, so send larger programs on their own Execute call";
      } else if (received == declared) {
        problem = "program data after the end: all " + declared + " declared bytes were already received";
      } else if (chunk.length > declared - received) {
        problem = "program data over the declared length: a chunk of " + chunk.length + " bytes at offset "
            + received + " goes past the declared " + declared + " bytes";
      } else {
        held = chunk;
        started = true;
      }
    }
    if (problem != null) {
      abort.accept(reason, problem);
      return;
    }
    feed();
  }

  /** Appends the held chunk if it fits under the buffer limit now; otherwise tries again shortly. */
  private void feed() {
    boolean appended = false;
    String failure = null;
    synchronized (this) {
      if (held == null || stopped) {
        return;
      }
      boolean fits;
      try {
        fits = data.awaitRoom(held.length, Duration.ZERO);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        fits = false;
      }
      if (fits) {
        try {
          data.append(held);
          received += held.length;
          appended = true;
          waitingSince = nanoTime.getAsLong();
          notifyAll();
        } catch (ProgramException e) {
          failure = "program data: " + e.getMessage();
        }
        held = null;
      }
    }
    if (failure != null) {
      abort.accept(EndReason.DATA, failure);
    } else if (appended) {
      requestNext.run();
    } else {
      try {
        // Nothing to wait for: feed() ends the call itself on every failure it knows.
        ScheduledFuture<?> unused = scheduler.schedule(this::feed, RETRY_MILLIS, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        abort.accept(EndReason.UNAVAILABLE, "the host is shutting down");
      }
    }
  }

  /**
   * Starts watching for a stalled renter: checks at each deadline until the data is complete or the
   * upload stopped, and aborts the call once the renter is late.
   */
  void watch() {
    long now = nanoTime.getAsLong();
    String late = latenessOrNull(now);
    if (late != null) {
      abort.accept(EndReason.DATA_LATE, late);
      return;
    }
    long wait = nanosToDeadline(now);
    if (wait < 0) {
      return;
    }
    try {
      // Ends by itself: the next check either aborts, reschedules or finds nothing left to watch.
      ScheduledFuture<?> unused = scheduler.schedule(this::watch, Math.max(wait, 1_000_000), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // Shutting down: close() ends every call.
    }
  }

  /**
   * Why the renter is late at {@code now}, or null: it is late when the host has been waiting for a
   * data message it asked for longer than the deadline (the first message's, or a later one's).
   */
  synchronized @Nullable String latenessOrNull(long now) {
    if (stopped || held != null || received == data.declaredLength()) {
      return null;
    }
    Duration allowed = started ? deadlines.data() : deadlines.firstData();
    if (now - waitingSince < allowed.toNanos()) {
      return null;
    }
    return started
        ? "program data: no data message for " + allowed + " (dataTimeout) after " + received + " of "
            + data.declaredLength() + " declared bytes; the program's slot is given back"
        : "program data: no data message within " + allowed + " of the header (firstDataTimeout); the program's"
            + " slot is given back";
  }

  /**
   * How long from {@code now} until the renter would be late if nothing arrived, at least 0; while the
   * host holds data back, a full deadline from now (checked again then); -1 when nothing is left to watch.
   */
  synchronized long nanosToDeadline(long now) {
    if (stopped || received == data.declaredLength()) {
      return -1;
    }
    Duration allowed = started ? deadlines.data() : deadlines.firstData();
    if (held != null) {
      return allowed.toNanos();
    }
    return Math.max(0, waitingSince + allowed.toNanos() - now);
  }

  synchronized long received() {
    return received;
  }

  synchronized boolean complete() {
    return received == data.declaredLength();
  }

  /**
   * Waits until every declared byte has arrived, at most {@code timeout}; false when it ran out or the
   * upload stopped. Called when no instruction needs data any more, so everything is released first:
   * the rest is dropped as it arrives and never waits for buffer room.
   */
  boolean awaitComplete(Duration timeout) throws InterruptedException {
    data.releaseBefore(data.declaredLength());
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (this) {
      while (!stopped && received < data.declaredLength()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
      return received == data.declaredLength();
    }
  }

  /**
   * The call ended or was aborted: a held chunk is dropped, retries end and a wait for the rest returns.
   * With a reason, the program data fails too, so a wait of the executor for data ends at once.
   */
  void stop(@Nullable String failureOrNull) {
    synchronized (this) {
      stopped = true;
      held = null;
      notifyAll();
    }
    if (failureOrNull != null) {
      data.fail(failureOrNull);
    }
  }
}
