package dev.capsulevm.vm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.ProgramException.Reason;
import dev.capsulevm.program.ProgramException;
import dev.capsulevm.testing.Await;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class ProgramDataTest {
  private static final Duration LONG = Duration.ofSeconds(10);

  private static byte[] counting(int from, int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (from + i);
    }
    return b;
  }

  @Test
  void returnsBytesSpanningChunks() throws Exception {
    ProgramData data = new ProgramData(30, 100);
    data.append(counting(0, 10));
    data.append(counting(10, 10));
    data.append(counting(20, 10));
    assertArrayEquals(counting(5, 20), data.awaitBytes(new DataRef(5, 20), LONG));
    assertArrayEquals(counting(0, 30), data.awaitBytes(new DataRef(0, 30), LONG));
    assertArrayEquals(new byte[0], data.awaitBytes(new DataRef(30, 0), LONG));
    assertTrue(data.isComplete());
  }

  @Test
  void returnsACopy() throws Exception {
    ProgramData data = new ProgramData(4, 100);
    byte[] chunk = counting(0, 4);
    data.append(chunk);
    chunk[0] = 99;
    byte[] read = data.awaitBytes(new DataRef(0, 4), LONG);
    read[1] = 99;
    assertArrayEquals(counting(0, 4), data.awaitBytes(new DataRef(0, 4), LONG));
  }

  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void aConsumerWaitsOnlyForTheBytesItReferencesWhileAProducerFeedsChunks() throws Exception {
    int total = 64 * 1024;
    ProgramData data = new ProgramData(total, 4096);
    CompletableFuture<Void> producer = CompletableFuture.runAsync(() -> {
      try {
        for (int off = 0; off < total; off += 100) {
          int n = Math.min(100, total - off);
          if (!data.awaitRoom(n, LONG)) {
            throw new IllegalStateException("no room for " + n + " bytes");
          }
          data.append(counting(off, n));
        }
      } catch (ProgramException e) {
        throw new IllegalStateException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    for (int off = 0; off + 512 <= total; off += 512) {
      byte[] got = data.awaitBytes(new DataRef(off, 512), LONG);
      assertArrayEquals(counting(off, 512), got);
      data.releaseBefore(off + 512);
      assertTrue(data.buffered() <= 4096);
    }
    producer.get(30, TimeUnit.SECONDS);
    assertTrue(data.isComplete());
    assertEquals(0, data.buffered());
  }

  @Test
  void refusesAChunkOverTheBufferLimitNamingIt() throws Exception {
    ProgramData data = new ProgramData(1000, 100);
    data.append(new byte[60]);
    ProgramException e = assertThrows(ProgramException.class, () -> data.append(new byte[41]));
    assertEquals(Reason.BUFFER_LIMIT, e.reason());
    assertTrue(e.getMessage().contains("100"), e.getMessage());
    ProgramException later = assertThrows(ProgramException.class,
        () -> data.awaitBytes(new DataRef(0, 10), LONG));
    assertEquals(Reason.DATA_UNAVAILABLE, later.reason());
  }

  @Test
  void releasingMakesRoomAndDropsBytesBeforeTheyArrive() throws Exception {
    ProgramData data = new ProgramData(1000, 100);
    data.append(counting(0, 100));
    data.releaseBefore(50);
    assertEquals(50, data.buffered());
    data.append(counting(100, 50));
    assertArrayEquals(counting(50, 100), data.awaitBytes(new DataRef(50, 100), LONG));
    data.releaseBefore(400);
    assertEquals(0, data.buffered());
    data.append(new byte[250]); // offsets 150..399, all below the mark: dropped
    assertEquals(0, data.buffered());
    data.append(counting(0, 100)); // offsets 400..499
    assertEquals(100, data.buffered());
    assertArrayEquals(Arrays.copyOfRange(counting(0, 100), 50, 100), data.awaitBytes(new DataRef(450, 50), LONG));
    ProgramException released = assertThrows(ProgramException.class,
        () -> data.awaitBytes(new DataRef(10, 10), LONG));
    assertEquals(Reason.DATA_UNAVAILABLE, released.reason());
  }

  @Test
  void refusesAtOnceAReferenceLargerThanTheBufferLimit() {
    ProgramData data = new ProgramData(1000, 100);
    ProgramException e = assertThrows(ProgramException.class,
        () -> data.awaitBytes(new DataRef(0, 101), Duration.ofDays(100_000)));
    assertEquals(Reason.BUFFER_LIMIT, e.reason());
    assertTrue(e.getMessage().contains("100"), e.getMessage());
  }

  @Test
  void aHugeTimeoutIsAccepted() throws Exception {
    ProgramData data = new ProgramData(10, 100);
    data.append(new byte[10]);
    assertEquals(10, data.awaitBytes(new DataRef(0, 10), Duration.ofSeconds(Long.MAX_VALUE)).length);
    assertTrue(data.awaitRoom(50, Duration.ofSeconds(Long.MAX_VALUE)));
  }

  @Test
  void timesOutNamingWhatIsMissing() throws Exception {
    ProgramData data = new ProgramData(100, 100);
    data.append(new byte[10]);
    ProgramException e = assertThrows(ProgramException.class,
        () -> data.awaitBytes(new DataRef(0, 20), Duration.ofMillis(50)));
    assertEquals(Reason.DATA_UNAVAILABLE, e.reason());
    assertTrue(e.getMessage().contains("20"), e.getMessage());
  }

  @Test
  void refusesDataPastTheDeclaredLength() throws Exception {
    ProgramData data = new ProgramData(10, 100);
    assertEquals(Reason.REFERENCE_OUT_OF_BOUNDS,
        assertThrows(ProgramException.class, () -> data.awaitBytes(new DataRef(5, 6), LONG)).reason());
    data.append(new byte[8]);
    assertEquals(Reason.DATA_UNAVAILABLE,
        assertThrows(ProgramException.class, () -> data.append(new byte[3])).reason());
  }

  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void failingWakesAWaitingConsumer() throws Exception {
    ProgramData data = new ProgramData(100, 100);
    CompletableFuture<ProgramException> waiter = new CompletableFuture<>();
    Thread consumer = new Thread(() -> {
      try {
        data.awaitBytes(new DataRef(0, 50), Await.DEADLINE);
        waiter.complete(null);
      } catch (ProgramException e) {
        waiter.complete(e);
      } catch (InterruptedException e) {
        waiter.completeExceptionally(e);
      }
    });
    consumer.start();
    // The only timed wait on its way is the one inside awaitBytes.
    Await.until("the consumer waits for the bytes", () -> consumer.getState() == Thread.State.TIMED_WAITING);
    data.fail("stream closed");
    ProgramException e = waiter.get(30, TimeUnit.SECONDS);
    assertEquals(Reason.DATA_UNAVAILABLE, e.reason());
    assertTrue(e.getMessage().contains("stream closed"));
  }
}
