package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;
import java.util.List;
import java.util.Objects;

/** The messages of a reconciliation session; {@link SyncCodec} gives their bytes. */
public sealed interface SyncMessage {
  /** A replica's state for the quick check: record count, set fingerprint, heads (ascending). */
  record Summary(long count, Hash fingerprint, List<Hash> heads) {
    public Summary {
      Objects.requireNonNull(fingerprint, "fingerprint");
      heads = List.copyOf(heads);
      if (count < 0) {
        throw new IllegalArgumentException("negative count");
      }
    }

    public static Summary of(SyncDag dag) {
      SetDigest d = dag.digest();
      return new Summary(d.count(), d.fingerprint(), dag.heads());
    }
  }

  /** Modes the initiator asks for. */
  int MODE_RIBLT = 0;
  int MODE_BLOOM = 1;
  /** The rateless IBLT over keyed 64-bit hashes of the ids (compact symbols). */
  int MODE_RIBLT_COMPACT = 2;
  /**
   * The compact form under the standing key two hosts derive from their key exchange
   * ({@link SessionKey#forPair}) instead of the session's: the same symbols, which each host can keep
   * up to date as records are stored ({@link CodedSet}).
   */
  int MODE_RIBLT_PAIRED = 3;

  /** Initiator, first: protocol version 1, capsule, its nonce, the mode it asks for, its summary. */
  @SuppressWarnings("ArrayRecordComponent") // never compared: messages are compared by their encoding
  record Hello(Hash capsule, byte[] nonce, int mode, Summary summary) implements SyncMessage {}

  /** Responder, first: its nonce and summary. */
  @SuppressWarnings("ArrayRecordComponent") // never compared: messages are compared by their encoding
  record SummaryReply(byte[] nonce, Summary summary) implements SyncMessage {}

  /**
   * A run of coded symbols from the responder; counts travel as their difference from
   * {@link Riblt#expectedCount} for the responder's record count. Width 4: sums of ids (type 0x03);
   * width 1: the compact form, sums of keyed hashes with 32-bit checksums (type 0x0A).
   */
  @SuppressWarnings("ArrayRecordComponent") // never compared: messages are compared by their encoding
  record Symbols(long first, int width, long[] sums, long[] checksums, long[] countDeltas) implements SyncMessage {
    public int size() {
      return checksums.length;
    }
  }

  /** A Bloom filter of the sender's records under the Bloom key of round {@code round}. */
  @SuppressWarnings("ArrayRecordComponent") // never compared: messages are compared by their encoding
  record Bloom(int round, int probes, long bits, byte[] data) implements SyncMessage {}

  /** Records (in the Sync service, with their canonical bytes), parents before children. */
  record Records(List<SyncRecord> records) implements SyncMessage {}

  /** Records the sender lacks, by id (the walk), ascending. */
  record WantIds(List<Hash> ids) implements SyncMessage {}

  /** Records the sender lacks, by their keyed IBLT checksum, ascending as unsigned numbers. */
  @SuppressWarnings("ArrayRecordComponent") // never compared: messages are compared by their encoding
  record WantChecksums(long[] checksums) implements SyncMessage {}

  /** The sender's heads, ascending: sent with its first Bloom filter unless its summary carried them. */
  record Heads(List<Hash> heads) implements SyncMessage {}

  /** The sender's count and fingerprint after applying everything it received; it asks for nothing. */
  record Done(long count, Hash fingerprint) implements SyncMessage {}
}
