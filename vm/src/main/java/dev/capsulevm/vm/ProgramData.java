package dev.capsulevm.vm;

import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramException.Reason;
import dev.capsulevm.program.ProgramException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A program's data as it arrives, in order, in chunks. A consumer (the executor) waits only for the
 * bytes an instruction references; bytes no later instruction references are released, and at most a
 * configured number of bytes is ever buffered. Thread-safe for one producer and any consumers.
 */
public final class ProgramData {
  /** The largest buffer limit: a reference's bytes are returned as one array. */
  public static final long MAX_BUFFER_LIMIT = Integer.MAX_VALUE - 8;

  private final long declaredLength;
  private final long maxBufferedBytes;
  /** Held chunks in offset order; together they cover [releasedBefore or later, received). */
  private final ArrayDeque<Segment> segments = new ArrayDeque<>();
  private long received;
  private long releasedBefore;
  private long buffered;
  private @Nullable String failure;

  @SuppressWarnings("ArrayRecordComponent") // never compared: a held chunk, not a value
  private record Segment(long offset, byte[] bytes) {
    long end() {
      return offset + bytes.length;
    }
  }

  /**
   * @param declaredLength the program's declared data length: exactly this many bytes must arrive
   * @param maxBufferedBytes the most bytes held at once
   */
  public ProgramData(long declaredLength, long maxBufferedBytes) {
    if (declaredLength < 0 || maxBufferedBytes <= 0 || maxBufferedBytes > MAX_BUFFER_LIMIT) {
      throw new IllegalArgumentException("declared length " + declaredLength + " must not be negative and"
          + " the buffer limit " + maxBufferedBytes + " must be 1 to " + MAX_BUFFER_LIMIT);
    }
    this.declaredLength = declaredLength;
    this.maxBufferedBytes = maxBufferedBytes;
  }

  /** Data for {@code program}, buffering at most {@code maxBufferedBytes}. */
  public static ProgramData forProgram(Program program, long maxBufferedBytes) {
    return new ProgramData(program.dataLength(), maxBufferedBytes);
  }

  /**
   * Adds the next chunk (copied). Bytes below {@link #releaseBefore(long) the release mark} are dropped
   * as they arrive.
   *
   * @throws ProgramException DATA_UNAVAILABLE when the chunk goes past the declared length or the data
   *     has failed; BUFFER_LIMIT when keeping it would buffer more than the limit (the data then fails)
   */
  public synchronized void append(byte[] chunk) throws ProgramException {
    Objects.requireNonNull(chunk, "chunk");
    if (failure != null) {
      throw new ProgramException(Reason.DATA_UNAVAILABLE, "program data failed: " + failure);
    }
    if (chunk.length > declaredLength - received) {
      String message = "a chunk of " + chunk.length + " bytes at offset " + received
          + " goes past the declared " + declaredLength + " bytes of program data";
      fail(message);
      throw new ProgramException(Reason.DATA_UNAVAILABLE, message);
    }
    long start = received;
    int skip = (int) Math.max(0, Math.min(chunk.length, releasedBefore - start));
    int keep = chunk.length - skip;
    if (keep > maxBufferedBytes - buffered) {
      String message = "buffering " + keep + " more bytes on " + buffered + " would exceed the limit of "
          + maxBufferedBytes + " buffered bytes";
      fail(message);
      throw new ProgramException(Reason.BUFFER_LIMIT, message);
    }
    if (keep > 0) {
      segments.addLast(new Segment(start + skip, Arrays.copyOfRange(chunk, skip, chunk.length)));
      buffered += keep;
    }
    received += chunk.length;
    notifyAll();
  }

  /**
   * Waits until the bytes of {@code ref} have arrived and returns a copy of them.
   *
   * @throws ProgramException DATA_UNAVAILABLE when they do not arrive within {@code timeout}, reach past
   *     the declared length, were released, or the data failed
   */
  public synchronized byte[] awaitBytes(DataRef ref, Duration timeout) throws ProgramException, InterruptedException {
    Objects.requireNonNull(ref, "ref");
    if (!ref.fitsIn(declaredLength)) {
      throw new ProgramException(Reason.REFERENCE_OUT_OF_BOUNDS, "reference (" + ref.offset() + ", "
          + ref.length() + ") reaches past the declared " + declaredLength + " bytes of program data");
    }
    if (ref.length() == 0) {
      return new byte[0];
    }
    if (ref.length() > maxBufferedBytes) {
      throw new ProgramException(Reason.BUFFER_LIMIT, "reference (" + ref.offset() + ", " + ref.length()
          + ") can never be held under the limit of " + maxBufferedBytes + " buffered bytes");
    }
    if (ref.offset() < releasedBefore) {
      throw new ProgramException(Reason.DATA_UNAVAILABLE, "reference (" + ref.offset() + ", " + ref.length()
          + ") starts below " + releasedBefore + ", which was released");
    }
    long deadline = System.nanoTime() + nanos(timeout);
    while (received < ref.end() && failure == null) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new ProgramException(Reason.DATA_UNAVAILABLE, "bytes up to " + ref.end() + " did not arrive within "
            + timeout + "; " + received + " bytes have");
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    if (failure != null) {
      throw new ProgramException(Reason.DATA_UNAVAILABLE, "program data failed: " + failure);
    }
    if (ref.offset() < releasedBefore) {
      throw new ProgramException(Reason.DATA_UNAVAILABLE, "reference (" + ref.offset() + ", " + ref.length()
          + ") was released while waiting");
    }
    return copy(ref);
  }

  /** A timeout in nanoseconds, capped so that adding it to {@link System#nanoTime()} stays comparable. */
  private static long nanos(Duration timeout) {
    if (timeout.isNegative()) {
      return 0;
    }
    return timeout.compareTo(Duration.ofDays(365)) > 0 ? Duration.ofDays(365).toNanos() : timeout.toNanos();
  }

  private byte[] copy(DataRef ref) {
    byte[] out = new byte[Math.toIntExact(ref.length())];
    for (Segment s : segments) {
      if (s.end() <= ref.offset()) {
        continue;
      }
      if (s.offset() >= ref.end()) {
        break;
      }
      long from = Math.max(s.offset(), ref.offset());
      long to = Math.min(s.end(), ref.end());
      System.arraycopy(s.bytes(), (int) (from - s.offset()), out, (int) (from - ref.offset()), (int) (to - from));
    }
    return out;
  }

  /**
   * Releases every byte below {@code offset}, also bytes that have not arrived yet: they are dropped on
   * arrival. The mark only moves forward.
   */
  public synchronized void releaseBefore(long offset) {
    if (offset <= releasedBefore) {
      return;
    }
    releasedBefore = offset;
    while (!segments.isEmpty() && segments.peekFirst().offset() < offset) {
      Segment first = segments.pollFirst();
      if (first.end() <= offset) {
        buffered -= first.bytes().length;
      } else {
        int drop = (int) (offset - first.offset());
        segments.addFirst(new Segment(offset, Arrays.copyOfRange(first.bytes(), drop, first.bytes().length)));
        buffered -= drop;
      }
    }
    notifyAll();
  }

  /**
   * For a producer that applies flow control: waits until a chunk of {@code bytes} fits under the
   * buffer limit (counting the bytes the release mark will drop), and says whether it does.
   */
  public synchronized boolean awaitRoom(long bytes, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + nanos(timeout);
    while (failure == null) {
      long keep = Math.max(0, bytes - Math.max(0, releasedBefore - received));
      if (keep <= maxBufferedBytes - buffered) {
        return true;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return false;
  }

  /** Fails the data (the stream broke or the program stopped): waiting and later calls are refused. */
  public synchronized void fail(String reason) {
    if (failure == null) {
      failure = Objects.requireNonNull(reason, "reason");
      segments.clear();
      buffered = 0;
      notifyAll();
    }
  }

  public synchronized long received() {
    return received;
  }

  /** The bytes held now. */
  public synchronized long buffered() {
    return buffered;
  }

  public synchronized boolean isComplete() {
    return received == declaredLength;
  }

  public long declaredLength() {
    return declaredLength;
  }

  public long maxBufferedBytes() {
    return maxBufferedBytes;
  }
}
