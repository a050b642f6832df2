package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The stall watch of an upload, on a clock the test moves: no waiting, no timing. */
class UploadTest {
  private static final long SECOND = 1_000_000_000L;
  private static final Upload.Deadlines DEADLINES = new Upload.Deadlines(Duration.ofSeconds(5), Duration.ofSeconds(30));

  private final ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(1);
  private long now = 1_000 * SECOND;
  private final List<String> aborts = new ArrayList<>();
  private int requested;

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
  }

  private Upload upload(long declared, long buffer) {
    return new Upload(declared, buffer, scheduler, () -> requested++,
        (reason, message) -> aborts.add(reason + ": " + message), DEADLINES, () -> now);
  }

  private static String late(@Nullable String lateness) {
    return Objects.requireNonNull(lateness, "late");
  }

  @Test
  void noFirstMessageWithinFirstDataTimeout_isLate() {
    Upload u = upload(8, 8);
    assertEquals(5 * SECOND, u.nanosToDeadline(now));
    now += 5 * SECOND - 1;
    assertNull(u.latenessOrNull(now));
    assertEquals(1, u.nanosToDeadline(now));
    now += 1;
    String message = late(u.latenessOrNull(now));
    assertTrue(message.contains("within PT5S of the header (firstDataTimeout)"), message);
  }

  @Test
  void afterTheFirstMessage_eachLaterOneHasDataTimeout() {
    Upload u = upload(8, 8);
    now += 4 * SECOND;
    u.offer(new byte[4]);
    assertEquals(1, requested, "the next message was asked for");
    assertNull(u.latenessOrNull(now + 30 * SECOND - 1), "the first deadline no longer applies");
    String message = late(u.latenessOrNull(now + 30 * SECOND));
    assertTrue(message.contains("no data message for PT30S (dataTimeout) after 4 of 8 declared bytes"), message);
  }

  @Test
  void dataTheHostHoldsBack_isNeverLate_andACompleteOrStoppedUploadIsNotWatched() {
    Upload u = upload(8, 4);
    u.offer(new byte[4]);
    u.offer(new byte[4]); // no room until the executor releases the first four: held, nothing asked for
    assertEquals(1, requested);
    assertNull(u.latenessOrNull(now + 3600 * SECOND));
    assertEquals(30 * SECOND, u.nanosToDeadline(now), "checked again a whole deadline later");
    u.stop(null);
    assertNull(u.latenessOrNull(now + 3600 * SECOND));
    assertEquals(-1, u.nanosToDeadline(now));

    Upload complete = upload(4, 4);
    complete.offer(new byte[4]);
    assertTrue(complete.complete());
    assertNull(complete.latenessOrNull(now + 3600 * SECOND));
    assertEquals(-1, complete.nanosToDeadline(now));
  }

  @Test
  void unpaced_aChunkArrivingWhileOneIsHeldFailsTheProgramData() {
    // A program stream asks for messages whatever the upload says: a second chunk may come while one waits.
    Upload u = upload(12, 4);
    u.offer(new byte[4]);
    u.offer(new byte[4]);
    assertEquals(List.of(), aborts, "one chunk is held, as on Execute");
    u.offer(new byte[4]);
    assertEquals(1, aborts.size());
    assertTrue(aborts.get(0).startsWith("DATA: program data over the buffer limit: a chunk of 4 bytes at offset 8"),
        aborts.get(0));
  }

  @Test
  void watch_abortsALateRenterAtOnce_andSchedulesItsCheckOtherwise() {
    Upload onTime = upload(8, 8);
    onTime.watch();
    assertEquals(List.of(), aborts);
    assertEquals(1, scheduler.getQueue().size(), "one check, at the deadline");
    onTime.stop(null);

    Upload stalled = upload(8, 8);
    now += 5 * SECOND;
    stalled.watch();
    assertEquals(1, aborts.size());
    assertTrue(aborts.get(0).startsWith("DATA_LATE: program data: no data message within PT5S"), aborts.get(0));
  }
}
