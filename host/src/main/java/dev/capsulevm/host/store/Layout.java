package dev.capsulevm.host.store;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.List;

/**
 * The capsule databases' names and key layouts (host/README.md has the table), and the byte handling
 * every reader of LMDB's memory shares. Integers are big-endian and fixed width, so LMDB's byte order is
 * hash order (the order {@link Hash} compares in) and then height order. The ledger's databases are
 * {@link LmdbLedger}'s.
 */
final class Layout {
  /** Metadata by capsule id (32): {@link SignedMetadata#encoded()}. */
  static final String DB_METADATA = "metadata";
  /**
   * Records by record hash (32): signed flag (u8), signature (64, when signed), header encoding
   * ({@link StoredRecords}).
   */
  static final String DB_RECORDS = "records";
  /** Sub-record payloads by record hash (32) then index (u64). */
  static final String DB_BODIES = "bodies";
  /**
   * Each record's Merkle tree over its sub-records, by record hash (32): {@link MerkleTree#encodedLevels()}
   * (the leaf hashes, then every level of aligned subtree roots), written with the record so that a
   * sub-record proof reads O(log n) hashes instead of rehashing every payload.
   */
  static final String DB_TREES = "trees";
  /** Empty values under capsule id (32), height (u64), record hash (32). */
  static final String DB_HEIGHTS = "heights";
  /** Empty values under capsule id (32), record hash (32): the capsule's heads. */
  static final String DB_HEADS = "heads";
  /** Capsule id (32) by record hash (32). */
  static final String DB_RECORD_CAPSULE = "record-capsule";
  /** Each capsule's set digest by capsule id (32): sum (32) then count (u64); see {@link DigestIndex}. */
  static final String DB_DIGESTS = "digests";
  /**
   * Empty values under capsule id (32), record hash (32): the capsule's membership records (version-2
   * records of kind membership), written with the record. A store from before this database has it
   * empty, which is right: it held no version-2 capsule with membership records.
   */
  static final String DB_MEMBER_RECORDS = "member-records";
  /**
   * The witness (32) by record hash (32) of each record whose payloads were dropped under its capsule's
   * retention policy: its {@code bodies} are deleted, its {@code records} and {@code trees} values kept.
   */
  static final String DB_DROPPED = "dropped";
  /**
   * What a record's storage was paid with, by record hash (32): {@code StoragePayment.encode()} (payer,
   * duration units, price, paid at, payload bytes), written with a record a renter's program appended
   * and deleted when its payloads are dropped (the unused part is credited then).
   */
  static final String DB_PAYMENTS = "payments";
  /** The capsule databases, in the order the store opens them. */
  static final List<String> DATABASES = List.of(DB_METADATA, DB_RECORDS, DB_BODIES, DB_TREES, DB_HEIGHTS,
      DB_HEADS, DB_RECORD_CAPSULE, DB_DIGESTS, DB_MEMBER_RECORDS, DB_DROPPED, DB_PAYMENTS);

  /** The length of a {@code heights} key. */
  static final int HEIGHT_KEY_LENGTH = Hash.LENGTH + Long.BYTES + Hash.LENGTH;

  static final HexFormat HEX = HexFormat.of();

  /**
   * Read keys are written into one direct buffer per thread instead of a fresh direct buffer per get
   * (allocating direct memory costs far more than the get). LMDB reads a key only during the call that
   * takes it, and no read here nests one get inside another, so one buffer per thread suffices.
   */
  private static final ThreadLocal<ByteBuffer> READ_KEY =
      ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(2 * Hash.LENGTH + Long.BYTES));

  private Layout() {}

  /** {@code hash} as a read key, in this thread's key buffer: valid until the next read key. */
  static ByteBuffer readKey(Hash hash) {
    ByteBuffer key = READ_KEY.get().clear();
    for (int i = 0; i < Hash.LENGTH; i++) {
      key.put(i, hash.byteAt(i));
    }
    return key.limit(Hash.LENGTH);
  }

  /** {@code hash ‖ number} (u64) as a read key, in this thread's key buffer. */
  static ByteBuffer readKey(Hash hash, long number) {
    ByteBuffer key = readKey(hash).limit(Hash.LENGTH + Long.BYTES);
    return key.putLong(Hash.LENGTH, number);
  }

  /** {@code hash} as a key of its own (for writes, which LMDB may read until the commit). */
  static ByteBuffer key(Hash hash) {
    return direct(hash.toByteArray());
  }

  /** {@code first ‖ second}: a {@code heads} key. */
  static ByteBuffer key(Hash first, Hash second) {
    byte[] key = new byte[2 * Hash.LENGTH];
    first.copyTo(key, 0);
    second.copyTo(key, Hash.LENGTH);
    return direct(key);
  }

  /** {@code hash ‖ number} (u64): a {@code bodies} key. */
  static ByteBuffer key(Hash hash, long number) {
    return direct(prefix(hash, number));
  }

  /** {@code capsuleId ‖ height ‖ recordHash}: a key of {@link #DB_HEIGHTS}. */
  static ByteBuffer key(Hash capsuleId, long height, Hash recordHash) {
    byte[] key = new byte[HEIGHT_KEY_LENGTH];
    System.arraycopy(prefix(capsuleId, height), 0, key, 0, Hash.LENGTH + Long.BYTES);
    recordHash.copyTo(key, Hash.LENGTH + Long.BYTES);
    return direct(key);
  }

  /** The bytes of {@code hash ‖ number} (u64). */
  static byte[] prefix(Hash hash, long number) {
    ByteBuffer key = ByteBuffer.allocate(Hash.LENGTH + Long.BYTES);
    key.put(hash.toByteArray()).putLong(number);
    return key.array();
  }

  static ByteBuffer direct(byte[] bytes) {
    ByteBuffer buffer = ByteBuffer.allocateDirect(bytes.length);
    buffer.put(bytes).flip();
    return buffer;
  }

  static ByteBuffer empty() {
    return ByteBuffer.allocateDirect(0);
  }

  /** A copy of an LMDB value (or any buffer) as a fresh array, by absolute index. */
  static byte[] copyOut(ByteBuffer value) {
    byte[] out = new byte[value.remaining()];
    value.get(value.position(), out);
    return out;
  }

  /** The big-endian u64 at {@code at}, by absolute index whatever the buffer's byte order. */
  static long longAt(ByteBuffer buffer, int at) {
    long v = 0;
    for (int i = 0; i < Long.BYTES; i++) {
      v = (v << 8) | (buffer.get(at + i) & 0xff);
    }
    return v;
  }

  /** Whether {@code key} starts with {@code prefix}, compared in place. */
  static boolean startsWith(ByteBuffer key, byte[] prefix) {
    if (key.remaining() < prefix.length) {
      return false;
    }
    int at = key.position();
    for (int i = 0; i < prefix.length; i++) {
      if (key.get(at + i) != prefix[i]) {
        return false;
      }
    }
    return true;
  }
}
