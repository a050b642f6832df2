package dev.capsulevm.renter;

import dev.capsulevm.pricing.Limits;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Reads a run of sub-records (one record's, or every one between two positions) in programs of many
 * {@code ReadSubRecord} instructions, each output verified before it is handed on, holding at most one
 * program's outputs at a time: memory stays bounded by {@code windowBytes} however long the run.
 *
 * <p>First the records' headers: one program of {@code Prove} instructions per {@value #HEADER_BATCH}
 * heights, proven from the trusted anchor (a verified head). Then each record's sub-records are read with
 * that record, now verified, as their anchor, so each answer carries the record's header and the
 * sub-record's inclusion path rather than the whole path from the head (renter/README.md: a renter walks
 * backwards cheaply by naming a proven record as the anchor). Membership records met in a range of heights
 * are not data: they are skipped and reported to the listener.
 *
 * <p>In a private capsule each verified payload is decrypted ({@link Source#plaintext}) before the sink
 * gets it.
 */
public final class RangeReader {
  /** The most heights whose headers one program proves. */
  static final int HEADER_BATCH = 64;
  /** The most reads one program holds, whatever the window. */
  static final int MAX_READS = 4096;
  /** The default window: the most payload bytes one read program may return (by the capsule's size limit). */
  public static final long DEFAULT_WINDOW_BYTES = 4 << 20;

  /** What a program is built on and how a verified read is opened: a writer's view or a reader's. */
  public interface Source {
    /** A builder on the capsule (its metadata, heads and known headers). */
    ProgramBuilder newProgram();

    /** The plaintext of a verified read (decrypted in a private capsule), as the writer or reader gives it. */
    byte[] plaintext(VerifiedOutput read) throws RenterException;
  }

  /** A reader's view. */
  public static Source source(CapsuleReader reader) {
    return new Source() {
      @Override
      public ProgramBuilder newProgram() {
        return reader.newProgram();
      }

      @Override
      public byte[] plaintext(VerifiedOutput read) throws RenterException {
        return reader.plaintext(read);
      }
    };
  }

  /** A writer's view, its programs run on {@code client}. */
  public static Source source(CapsuleWriter writer, HostClient client) {
    return new Source() {
      @Override
      public ProgramBuilder newProgram() {
        return writer.newProgram(client);
      }

      @Override
      public byte[] plaintext(VerifiedOutput read) throws RenterException {
        return writer.plaintext(client, read);
      }
    };
  }

  /** Where the verified plaintexts go, in order. */
  public interface Sink {
    void accept(RecordHeader record, long index, byte[] plaintext) throws IOException;
  }

  /** Told of each program run (its verified result, not held after the call) and each record skipped. */
  public interface Listener {
    default void ran(ProgramResult result) {}

    /** A record in the range that is not a data record (a membership change): none of it was read. */
    default void skipped(RecordHeader record) {}

    /** Every sub-record wanted of {@code record} was read, verified and handed to the sink. */
    default void recordDone(RecordHeader record) {}
  }

  /** What was read: data records touched, sub-records and plaintext bytes handed on, records skipped. */
  public record Summary(long records, long subRecords, long bytes, long skipped) {}

  private final HostClient client;
  private final Source source;
  private final SignedMetadata metadata;
  private final long windowBytes;

  /**
   * @param metadata the capsule's verified metadata (its sub-record size bounds what a read returns)
   * @param windowBytes the most payload bytes one read program may return, by the capsule's size limit
   *     (at least one sub-record is read per program)
   */
  public RangeReader(HostClient client, Source source, SignedMetadata metadata, long windowBytes) {
    this.client = Objects.requireNonNull(client, "client");
    this.source = Objects.requireNonNull(source, "source");
    this.metadata = Objects.requireNonNull(metadata, "metadata");
    if (windowBytes < 1) {
      throw new IllegalArgumentException("the window is at least 1 byte, got " + windowBytes);
    }
    this.windowBytes = windowBytes;
  }

  /**
   * Reads every sub-record from {@code from} to {@code to}, both included, along the primary chain below
   * {@code anchor}; a {@code to} index beyond its record's last sub-record means the last one
   * ({@code Long.MAX_VALUE}: the whole record).
   *
   * @param anchor a head this renter verified (signed by a writer); every record read is proven from it
   * @throws IllegalArgumentException when {@code from} lies after {@code to} or {@code to} above the anchor
   * @throws RenterException when a record has fewer sub-records than {@code from} names, or as a program
   *     failed; {@link SubRecordDroppedException} when a payload in the range was dropped under the
   *     retention policy (everything before it was handed on)
   * @throws IOException as the sink throws it
   */
  public Summary read(RecordHeader anchor, SubRecordPosition from, SubRecordPosition to, Sink sink,
      Listener listener) throws RenterException, IOException {
    if (to.height() > anchor.height()) {
      throw new IllegalArgumentException("height " + to.height() + " is above the newest head's, " + anchor.height());
    }
    if (from.height() > to.height() || (from.height() == to.height() && from.index() > to.index())) {
      throw new IllegalArgumentException("the range starts at " + from + ", after its end " + to);
    }
    Reads reads = new Reads(sink, listener);
    for (long start = from.height(); start <= to.height(); start += HEADER_BATCH) {
      long end = Math.min(to.height(), start + HEADER_BATCH - 1);
      ProgramBuilder builder = source.newProgram();
      for (long h = start; h <= end; h++) {
        builder.proveAtHeight(h, anchor);
      }
      ProgramResult result = client.run(builder.build());
      listener.ran(result);
      for (VerifiedOutput out : result.outputs()) {
        RecordHeader header = Objects.requireNonNull(out.provenHeaderOrNull(), "a verified proof proves its record");
        long first = header.height() == from.height() ? from.index() : 0;
        long last = header.height() == to.height() ? to.index() : Long.MAX_VALUE;
        reads.add(header, first, last, header.height() == from.height());
      }
    }
    reads.flush();
    return reads.summary();
  }

  /**
   * Reads every sub-record of record {@code record}, proven from {@code anchor}.
   *
   * @throws RenterException as a program failed ({@code NOT_FOUND} when the record is not below the anchor)
   */
  public Summary readRecord(RecordHeader anchor, Hash record, Sink sink, Listener listener)
      throws RenterException, IOException {
    ProgramBuilder builder = source.newProgram();
    builder.prove(record, anchor);
    ProgramResult result = client.run(builder.build());
    listener.ran(result);
    RecordHeader header = Objects.requireNonNull(result.output(0).provenHeaderOrNull(),
        "a verified proof proves its record");
    Reads reads = new Reads(sink, listener);
    reads.add(header, 0, Long.MAX_VALUE, true);
    reads.flush();
    return reads.summary();
  }

  /** The reads of a run, gathered into programs of at most a window each. */
  private final class Reads {
    private final Sink sink;
    private final Listener listener;
    private final long perRead = Math.max(1, metadata.metadata().maxSubRecordBytes());
    private final int mostReads;
    private final List<RecordHeader> recordsOf = new ArrayList<>();
    private final List<Long> indexes = new ArrayList<>();
    /** Records whose every read is queued or run: done at the next flush. */
    private final List<RecordHeader> pendingDone = new ArrayList<>();
    private long records;
    private long subRecords;
    private long bytes;
    private long skipped;

    Reads(Sink sink, Listener listener) throws RenterException {
      this.sink = sink;
      this.listener = listener;
      Limits limits = client.priceTable().limits();
      long byWindow = Math.max(1, windowBytes / perRead);
      this.mostReads = (int) Math.max(1, Math.min(Math.min(byWindow, MAX_READS), limits.maxInstructions()));
    }

    /**
     * Queues sub-records {@code first} to {@code last} (capped at the record's last) of {@code header}.
     *
     * @param named whether the caller named this record's first sub-record (so it must exist)
     */
    void add(RecordHeader header, long first, long last, boolean named) throws RenterException, IOException {
      if (header.kind() != RecordKind.DATA) {
        skipped++;
        listener.skipped(header);
        return;
      }
      long count = header.subRecordCount();
      if (named && first > 0 && first >= count) {
        throw new RenterException("record " + header.hash().toHex() + " (height " + header.height() + ") has "
            + count + " sub-record(s): there is no sub-record " + first);
      }
      records++;
      long end = Math.min(last, count - 1);
      for (long i = first; i <= end; i++) {
        recordsOf.add(header);
        indexes.add(i);
        if (recordsOf.size() >= mostReads) {
          flush();
        }
      }
      pendingDone.add(header); // done once the reads queued now have run
    }

    /** Runs the queued reads in one program and hands each plaintext on, in order. */
    void flush() throws RenterException, IOException {
      if (!recordsOf.isEmpty()) {
        ProgramBuilder builder = source.newProgram();
        for (int k = 0; k < recordsOf.size(); k++) {
          RecordHeader header = recordsOf.get(k);
          // The record was proven from the head: as the anchor it makes each answer its header and the path.
          builder.readSubRecord(header.hash(), indexes.get(k), header);
        }
        ProgramResult result = client.run(builder.build());
        listener.ran(result);
        for (VerifiedOutput out : result.outputs()) {
          RecordHeader header = recordsOf.get(out.index());
          byte[] plaintext = source.plaintext(out); // verified, and in a private capsule decrypted
          sink.accept(header, indexes.get(out.index()), plaintext);
          subRecords++;
          bytes += plaintext.length;
        }
        recordsOf.clear();
        indexes.clear();
      }
      for (RecordHeader done : pendingDone) {
        listener.recordDone(done);
      }
      pendingDone.clear();
    }

    Summary summary() {
      return new Summary(records, subRecords, bytes, skipped);
    }
  }
}
