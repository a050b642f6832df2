package dev.capsulevm.renter;

import dev.capsulevm.pricing.Limits;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.privacy.RecordCipher;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Appends a byte stream (a file, standard input) to a capsule as a run of records, each holding up to a
 * fixed number of sub-records of a fixed size (the last one shorter), in one append program per record.
 * The stream is read one record at a time, so memory stays bounded by a record however long the stream is:
 * nothing but the record being appended and a small summary per record appended is held.
 *
 * <p>Each record goes through {@link CapsuleWriter#appendRecords}: built and signed on the writer's heads
 * (encrypted first in a private capsule), its new heads checked before the commit is confirmed, retried
 * after another writer's append. Without other writers the records form one chain, record {@code k + 1}'s
 * only parent being record {@code k}, so what was appended is read back by heights
 * ({@link RangeReader}) from {@link Summary#first()} to {@link Summary#last()}.
 */
public final class ChunkedAppender {
  /** The most payload bytes one record holds by default: what bounds memory (a record is held several times over). */
  public static final int DEFAULT_RECORD_BYTES = 4 << 20;
  /**
   * Room kept in the host's {@code maxRecordBytes} for what an append's input holds beside the payloads:
   * the record count, the header (its parents, skip pointers and, in a private capsule, its epoch key and
   * encapsulation) and the signature.
   */
  static final int RECORD_RESERVE = 16 << 10;
  /** What the append input adds per sub-record: its length. */
  static final int PER_SUB_RECORD = 4;

  private ChunkedAppender() {}

  /**
   * How a stream is cut: sub-records of {@code chunkBytes} bytes (of plaintext, in a private capsule),
   * {@code subRecordsPerRecord} of them per record.
   */
  public record Layout(int chunkBytes, int subRecordsPerRecord) {
    public Layout {
      if (chunkBytes < 1 || subRecordsPerRecord < 1) {
        throw new IllegalArgumentException("a layout has at least 1 byte per sub-record and 1 sub-record per record");
      }
    }

    /** The most stream bytes one record holds. */
    public long recordBytes() {
      return (long) chunkBytes * subRecordsPerRecord;
    }

    /**
     * The layout for a capsule on a host: {@code chunkOrNull} bytes per sub-record (default: the largest the
     * capsule takes, its {@code maxSubRecordBytes}, less the 16-byte tag in a private capsule) and
     * {@code perRecordOrNull} sub-records per record (default: as many as the capsule's
     * {@code maxSubRecords}, the host's {@code maxSubRecordsPerRecord} and {@code maxRecordBytes}, and
     * {@link #DEFAULT_RECORD_BYTES} of payload allow; at least 1).
     *
     * @throws IllegalArgumentException naming the limit a given size breaks
     */
    public static Layout forCapsule(SignedMetadata signed, Limits limits, @Nullable Integer chunkOrNull,
        @Nullable Integer perRecordOrNull) {
      Metadata metadata = signed.metadata();
      long tag = signed.isPrivate() ? RecordCipher.OVERHEAD : 0;
      long largest = Math.min(metadata.maxSubRecordBytes() - tag,
          (long) limits.maxRecordBytes() - RECORD_RESERVE - PER_SUB_RECORD - tag);
      if (largest < 1) {
        throw new IllegalArgumentException("capsule " + signed.capsuleId().toHex() + " takes sub-records of at most "
            + metadata.maxSubRecordBytes() + " bytes" + (tag == 0 ? "" : " (with a 16-byte tag: private)")
            + ": too small to hold data");
      }
      long chunk = chunkOrNull == null ? largest : chunkOrNull;
      if (chunk < 1 || chunk > largest) {
        throw new IllegalArgumentException("the sub-record size must be 1 to " + largest + " bytes for capsule "
            + signed.capsuleId().toHex() + " (its max sub-record bytes " + metadata.maxSubRecordBytes()
            + (tag == 0 ? "" : ", less 16 for a private capsule's tag") + ", and the host's max record bytes "
            + limits.maxRecordBytes() + "), got " + chunk);
      }
      long stored = chunk + tag + PER_SUB_RECORD;
      long mostPerRecord = Math.min(Math.min(metadata.maxSubRecords(), limits.maxSubRecordsPerRecord()),
          Math.max(1, ((long) limits.maxRecordBytes() - RECORD_RESERVE) / stored));
      long perRecord = perRecordOrNull != null ? perRecordOrNull
          : Math.min(mostPerRecord, Math.max(1, DEFAULT_RECORD_BYTES / chunk));
      if (perRecord < 1 || perRecord > mostPerRecord) {
        throw new IllegalArgumentException("a record of capsule " + signed.capsuleId().toHex() + " holds 1 to "
            + mostPerRecord + " sub-records of " + chunk + " bytes (the capsule's max sub-records "
            + metadata.maxSubRecords() + ", the host's max sub-records per record " + limits.maxSubRecordsPerRecord()
            + " and max record bytes " + limits.maxRecordBytes() + "), got " + perRecord);
      }
      return new Layout((int) chunk, (int) perRecord);
    }
  }

  /** One record appended: its hash and height, how many sub-records and stream bytes it holds. */
  public record Appended(Hash record, long height, int subRecords, long bytes) {
    public Appended {
      Objects.requireNonNull(record, "record");
    }
  }

  /** Told of each record once its append is committed and verified (its program's receipt included). */
  public interface Listener {
    /**
     * Hears that {@code record} is committed.
     *
     * @param record the record just appended
     * @param result its append program's verified result (not held after the call)
     * @param bytesSoFar the stream bytes appended so far, this record's included
     */
    void appended(Appended record, ProgramResult result, long bytesSoFar);
  }

  /**
   * What a stream became.
   *
   * @param records every record appended, in order (empty for an empty stream)
   * @param subRecords the sub-records appended
   * @param bytes the stream bytes appended
   * @param sha256 the SHA-256 of the stream's bytes (32 bytes; of nothing for an empty stream)
   * @param contiguous whether every record's primary parent is the record before it: the records are the
   *     heights from {@link #first()} to {@link #last()} with nothing between them (another writer's
   *     append between two of them makes this false)
   */
  @SuppressWarnings("ArrayRecordComponent") // a digest for display; summaries are not compared
  public record Summary(List<Appended> records, long subRecords, long bytes, byte[] sha256, boolean contiguous) {
    public Summary {
      records = List.copyOf(records);
      sha256 = sha256.clone();
    }

    /** The first sub-record appended; null for an empty stream. */
    public @Nullable SubRecordPosition first() {
      return records.isEmpty() ? null : new SubRecordPosition(records.get(0).height(), 0);
    }

    /** The last sub-record appended; null for an empty stream. */
    public @Nullable SubRecordPosition last() {
      if (records.isEmpty()) {
        return null;
      }
      Appended last = records.get(records.size() - 1);
      return new SubRecordPosition(last.height(), last.subRecords() - 1L);
    }

    @Override
    public byte[] sha256() {
      return sha256.clone();
    }
  }

  /**
   * Appends everything {@code in} holds, cut as {@code layout} says, one record per program, until the end
   * of the stream; {@code listener} hears of each record as it is committed.
   *
   * @throws IOException when reading the stream fails (the records appended before stay appended)
   * @throws RenterException as {@link CapsuleWriter#appendRecords} throws it, for the record being appended
   *     (the ones before it are committed)
   */
  public static Summary append(HostClient client, CapsuleWriter writer, InputStream in, Layout layout,
      Listener listener) throws RenterException, IOException {
    MessageDigest digest = sha256();
    List<Appended> appended = new ArrayList<>();
    long subRecords = 0;
    long bytes = 0;
    boolean contiguous = true;
    @Nullable Hash previous = null;
    boolean ended = false;
    while (!ended) {
      List<byte[]> body = new ArrayList<>();
      long bodyBytes = 0;
      while (body.size() < layout.subRecordsPerRecord()) {
        byte[] chunk = in.readNBytes(layout.chunkBytes());
        if (chunk.length > 0) {
          body.add(chunk);
          digest.update(chunk);
          bodyBytes += chunk.length;
        }
        if (chunk.length < layout.chunkBytes()) {
          ended = true; // readNBytes returns less only at the end of the stream
          break;
        }
      }
      if (body.isEmpty()) {
        break;
      }
      List<RecordWithBody> records = writer.appendRecords(client, List.of(body));
      RecordHeader header = records.get(0).record().header();
      if (previous != null && !header.primaryParent().equals(previous)) {
        contiguous = false;
      }
      previous = header.hash();
      Appended record = new Appended(header.hash(), header.height(), body.size(), bodyBytes);
      appended.add(record);
      subRecords += body.size();
      bytes += bodyBytes;
      listener.appended(record, Objects.requireNonNull(writer.lastResult(), "the writer ran the append"), bytes);
    }
    return new Summary(appended, subRecords, bytes, digest.digest(), contiguous);
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }
}
