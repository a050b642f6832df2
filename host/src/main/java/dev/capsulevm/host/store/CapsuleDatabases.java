package dev.capsulevm.host.store;

import dev.capsulevm.host.sync.SyncDag;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.merkle.EncodedLevels;
import dev.capsulevm.proofs.merkle.MerkleTree;
import dev.capsulevm.vm.storage.StorageException;
import dev.capsulevm.vm.storage.StoragePayment;
import dev.capsulevm.vm.storage.StorageException.Reason;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.lmdbjava.CursorIterable;
import org.lmdbjava.CursorIterable.KeyVal;
import org.lmdbjava.Dbi;
import org.lmdbjava.KeyRange;
import org.lmdbjava.Txn;

/**
 * The capsule databases ({@code metadata}, {@code records}, {@code bodies}, {@code trees},
 * {@code heights}, {@code heads}, {@code record-capsule}, {@code member-records}, {@code dropped},
 * {@code payments}), read and written
 * inside a transaction the caller holds. Reads work in place on LMDB's memory, which is valid only
 * inside the transaction, and copy out only what they return. A value that does not parse, or a missing value another database
 * promises, throws {@link StorageCorruptionException} naming the database and the key. Thread-safe (the
 * caches are shared by all transactions).
 */
final class CapsuleDatabases {
  private final Dbi<ByteBuffer> metadata;
  private final Dbi<ByteBuffer> records;
  private final Dbi<ByteBuffer> bodies;
  private final Dbi<ByteBuffer> trees;
  private final Dbi<ByteBuffer> heights;
  private final Dbi<ByteBuffer> heads;
  private final Dbi<ByteBuffer> recordCapsule;
  private final Dbi<ByteBuffer> memberRecords;
  private final Dbi<ByteBuffer> dropped;
  private final Dbi<ByteBuffer> payments;
  /** Metadata never changes once stored, so parsed (signature-checked) copies are kept. */
  private final Map<Hash, SignedMetadata> metadataCache = new ConcurrentHashMap<>();
  private final RecordCache parsedRecords = new RecordCache();

  CapsuleDatabases(LmdbEnvironment environment) {
    metadata = environment.dbi(Layout.DB_METADATA);
    records = environment.dbi(Layout.DB_RECORDS);
    bodies = environment.dbi(Layout.DB_BODIES);
    trees = environment.dbi(Layout.DB_TREES);
    heights = environment.dbi(Layout.DB_HEIGHTS);
    heads = environment.dbi(Layout.DB_HEADS);
    recordCapsule = environment.dbi(Layout.DB_RECORD_CAPSULE);
    memberRecords = environment.dbi(Layout.DB_MEMBER_RECORDS);
    dropped = environment.dbi(Layout.DB_DROPPED);
    payments = environment.dbi(Layout.DB_PAYMENTS);
  }

  // ---- capsules

  boolean hasCapsule(Txn<ByteBuffer> txn, Hash capsuleId) {
    return metadata.get(txn, Layout.readKey(capsuleId)) != null;
  }

  /** The parsed metadata of a capsule seen stored before, or null: needs no transaction. */
  @Nullable SignedMetadata cachedMetadataOrNull(Hash capsuleId) {
    return metadataCache.get(capsuleId);
  }

  /** The metadata of a capsule {@code txn} holds, parsed against its id. */
  SignedMetadata metadataOf(Txn<ByteBuffer> txn, Hash capsuleId) {
    SignedMetadata cached = metadataCache.get(capsuleId);
    if (cached != null) {
      return cached;
    }
    ByteBuffer stored = metadata.get(txn, Layout.readKey(capsuleId));
    if (stored == null) {
      throw new StorageCorruptionException(
          "database " + Layout.DB_METADATA + " lost key " + capsuleId.toHex() + " under an open snapshot");
    }
    SignedMetadata parsed;
    try {
      parsed = SignedMetadata.parse(Layout.copyOut(stored), capsuleId);
    } catch (VerificationException e) {
      throw StorageCorruptionException.unparsable(Layout.DB_METADATA, capsuleId.toByteArray(), e);
    }
    metadataCache.put(capsuleId, parsed);
    return parsed;
  }

  /** The ids of the stored capsules, sorted. */
  List<Hash> capsuleIds(Txn<ByteBuffer> txn) {
    List<Hash> out = new ArrayList<>();
    try (CursorIterable<ByteBuffer> cursor = metadata.iterate(txn, KeyRange.all())) {
      for (KeyVal<ByteBuffer> entry : cursor) {
        out.add(Hash.copyOf(Layout.copyOut(entry.key())));
      }
    }
    return Collections.unmodifiableList(out);
  }

  long capsuleCount(Txn<ByteBuffer> txn) {
    return metadata.stat(txn).entries;
  }

  /** Stores a new capsule's metadata; kept parsed once {@link #created} is told the commit went through. */
  void create(Txn<ByteBuffer> txn, SignedMetadata signed) throws StorageException {
    Hash id = signed.capsuleId();
    if (metadata.get(txn, Layout.key(id)) != null) {
      throw new StorageException(Reason.CAPSULE_EXISTS, "capsule " + id.toHex() + " is already stored");
    }
    metadata.put(txn, Layout.key(id), Layout.direct(signed.encoded()));
  }

  /** Keeps the metadata of a capsule whose creation was committed. */
  void created(SignedMetadata signed) {
    metadataCache.put(signed.capsuleId(), signed);
  }

  // ---- records

  /** A record seen stored before, or null: needs no transaction. */
  @Nullable Record cachedRecordOrNull(Hash recordHash) {
    return parsedRecords.getOrNull(recordHash);
  }

  /** Record {@code recordHash} of any capsule, or null. */
  @Nullable Record recordOrNull(Txn<ByteBuffer> txn, Hash recordHash) {
    Record cached = parsedRecords.getOrNull(recordHash);
    if (cached != null) {
      return cached;
    }
    ByteBuffer stored = records.get(txn, Layout.readKey(recordHash));
    if (stored == null) {
      return null;
    }
    Record record = StoredRecords.decode(recordHash, stored);
    parsedRecords.put(recordHash, record);
    return record;
  }

  /** Whether {@code capsuleId} holds {@code recordHash}: its record-capsule value, compared in place. */
  boolean holds(Txn<ByteBuffer> txn, Hash capsuleId, Hash recordHash) {
    ByteBuffer owner = recordCapsule.get(txn, Layout.readKey(recordHash));
    if (owner == null) {
      return false;
    }
    if (owner.remaining() != Hash.LENGTH) {
      throw new StorageCorruptionException("database " + Layout.DB_RECORD_CAPSULE + ", key " + recordHash.toHex()
          + ": value is " + owner.remaining() + " bytes, not a capsule id");
    }
    int at = owner.position();
    for (int i = 0; i < Hash.LENGTH; i++) {
      if (owner.get(at + i) != capsuleId.byteAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** Record {@code recordHash} when {@code capsuleId} holds it, else null. */
  @Nullable Record recordOfOrNull(Txn<ByteBuffer> txn, Hash capsuleId, Hash recordHash) {
    if (!holds(txn, capsuleId, recordHash)) {
      return null;
    }
    return heldRecord(txn, recordHash);
  }

  /** A record {@code record-capsule} names: present in {@code records}, or the store is damaged. */
  Record heldRecord(Txn<ByteBuffer> txn, Hash recordHash) {
    Record record = recordOrNull(txn, recordHash);
    if (record == null) {
      throw new StorageCorruptionException("database " + Layout.DB_RECORDS + " lacks key " + recordHash.toHex()
          + ", which " + Layout.DB_RECORD_CAPSULE + " holds");
    }
    return record;
  }

  /** Sub-record {@code index} of a held record, copied once out of LMDB's memory (the caller keeps it). */
  byte[] body(Txn<ByteBuffer> txn, Hash recordHash, long index) {
    ByteBuffer stored = bodies.get(txn, Layout.readKey(recordHash, index));
    if (stored == null) {
      throw new StorageCorruptionException("database " + Layout.DB_BODIES + " lacks key "
          + Layout.HEX.formatHex(Layout.prefix(recordHash, index)) + " (record " + recordHash.toHex()
          + ", sub-record " + index + ")");
    }
    return Layout.copyOut(stored);
  }

  /** The witness of a held record whose payloads were dropped, or null when it holds them. */
  @Nullable Hash droppedWitnessOrNull(Txn<ByteBuffer> txn, Hash recordHash) {
    ByteBuffer stored = dropped.get(txn, Layout.readKey(recordHash));
    if (stored == null) {
      return null;
    }
    checkLength(stored, Hash.LENGTH, Layout.DB_DROPPED);
    return Hash.copyOf(Layout.copyOut(stored));
  }

  /** What a held record's storage was paid with, or null. */
  @Nullable StoragePayment paymentOrNull(Txn<ByteBuffer> txn, Hash recordHash) {
    ByteBuffer stored = payments.get(txn, Layout.readKey(recordHash));
    if (stored == null) {
      return null;
    }
    try {
      return StoragePayment.parse(Layout.copyOut(stored));
    } catch (IllegalArgumentException e) {
      throw StorageCorruptionException.unparsable(Layout.DB_PAYMENTS, recordHash.toByteArray(), e);
    }
  }

  /**
   * A held record as a peer is sent it: with its payloads, or dropped (its kept tree's leaf hashes and
   * its witness).
   */
  RecordWithBody withBody(Txn<ByteBuffer> txn, Record record) {
    Hash witness = droppedWitnessOrNull(txn, record.hash());
    return witness == null ? new RecordWithBody(record, bodies(txn, record))
        : RecordWithBody.dropped(record, tree(txn, record), witness);
  }

  /** Every sub-record of a held record, in leaf order. */
  List<byte[]> bodies(Txn<ByteBuffer> txn, Record record) {
    long count = record.header().subRecordCount();
    List<byte[]> out = new ArrayList<>((int) Math.min(count, 1 << 16));
    for (long i = 0; i < count; i++) {
      out.add(body(txn, record.hash(), i));
    }
    return Collections.unmodifiableList(out);
  }

  /**
   * The held record's kept tree, read back without rehashing the leaves; computed from the bodies for a
   * record stored before trees were kept. Its root is checked against the header (O(log n) hashes),
   * which catches a damaged upper level; a damaged leaf hash shows as a proof the renter refuses.
   */
  MerkleTree tree(Txn<ByteBuffer> txn, Record record) {
    EncodedLevels kept = keptLevelsOrNull(txn, record);
    return kept == null ? MerkleTree.ofLeaves(bodies(txn, record)) : kept.toTree();
  }

  /**
   * The held record's kept tree levels read in place (O(log n) nodes per leaf asked for; {@link #tree}
   * copies them all), their root checked against the header as {@link #tree} checks it; null for a record
   * stored before trees were kept. They stay valid until {@code txn} ends: a read transaction's pages do
   * not move, and the buffer is a duplicate of the one LMDB reuses for its next read.
   */
  @Nullable EncodedLevels keptLevelsOrNull(Txn<ByteBuffer> txn, Record record) {
    ByteBuffer stored = trees.get(txn, Layout.readKey(record.hash()));
    if (stored == null) {
      return null;
    }
    EncodedLevels levels;
    try {
      levels = EncodedLevels.of(record.header().subRecordCount(), stored.duplicate());
    } catch (IllegalArgumentException e) {
      throw StorageCorruptionException.unparsable(Layout.DB_TREES, record.hash().toByteArray(), e);
    }
    if (!levels.root().equals(record.header().subRecordRoot())) {
      throw StorageCorruptionException.unparsable(Layout.DB_TREES, record.hash().toByteArray(),
          new IllegalStateException("the kept tree's root is not the header's sub-record root"));
    }
    return levels;
  }

  /** The capsule's heads, sorted; empty before its first record or when it is not stored. */
  List<Hash> heads(Txn<ByteBuffer> txn, Hash capsuleId) {
    return hashesUnder(txn, heads, Layout.DB_HEADS, capsuleId.toByteArray());
  }

  /** The capsule's membership records, sorted; empty for a version-1 capsule. */
  List<Hash> membershipRecords(Txn<ByteBuffer> txn, Hash capsuleId) {
    return hashesUnder(txn, memberRecords, Layout.DB_MEMBER_RECORDS, capsuleId.toByteArray());
  }

  /** The capsule's records at {@code height}, sorted. */
  List<Hash> recordsAtHeight(Txn<ByteBuffer> txn, Hash capsuleId, long height) {
    return hashesUnder(txn, heights, Layout.DB_HEIGHTS, Layout.prefix(capsuleId, height));
  }

  /** The hashes ending the keys of {@code dbi} that start with {@code prefix}, in key (= hash) order. */
  private static List<Hash> hashesUnder(Txn<ByteBuffer> txn, Dbi<ByteBuffer> dbi, String dbName, byte[] prefix) {
    List<Hash> out = new ArrayList<>();
    try (CursorIterable<ByteBuffer> cursor = dbi.iterate(txn, KeyRange.atLeast(Layout.direct(prefix)))) {
      for (KeyVal<ByteBuffer> entry : cursor) {
        // The key is LMDB's memory: compare the prefix in place and copy out only the hash.
        ByteBuffer key = entry.key();
        if (!Layout.startsWith(key, prefix)) {
          break;
        }
        checkLength(key, prefix.length + Hash.LENGTH, dbName);
        byte[] hash = new byte[Hash.LENGTH];
        key.get(key.position() + prefix.length, hash);
        out.add(Hash.copyOf(hash));
      }
    }
    return Collections.unmodifiableList(out);
  }

  /**
   * Calls {@code action} with the hash of every record of the capsule (none when it is not stored), as
   * limbs read in place from the keys of {@code heights}, in height order: no object per record.
   */
  void forEachRecordId(Txn<ByteBuffer> txn, Hash capsuleId, SyncDag.LimbConsumer action) {
    byte[] prefix = capsuleId.toByteArray();
    try (CursorIterable<ByteBuffer> cursor = heights.iterate(txn, KeyRange.atLeast(Layout.direct(prefix)))) {
      for (KeyVal<ByteBuffer> entry : cursor) {
        ByteBuffer key = entry.key();
        if (!Layout.startsWith(key, prefix)) {
          break;
        }
        checkLength(key, Layout.HEIGHT_KEY_LENGTH, Layout.DB_HEIGHTS);
        int h = key.position() + Hash.LENGTH + Long.BYTES;
        action.accept(Layout.longAt(key, h), Layout.longAt(key, h + 8), Layout.longAt(key, h + 16),
            Layout.longAt(key, h + 24));
      }
    }
  }

  private static void checkLength(ByteBuffer key, int length, String dbName) {
    if (key.remaining() != length) {
      byte[] bad = Layout.copyOut(key);
      throw new StorageCorruptionException(
          "database " + dbName + ", key " + Layout.HEX.formatHex(bad) + ": wrong key length " + bad.length);
    }
  }

  /**
   * Stores a record with its sub-records, tree and index entries, and moves the heads; the caller has
   * checked nothing. A record the store holds already changes nothing.
   *
   * @return whether the record was new to the store
   * @throws StorageException UNKNOWN_CAPSULE or MISSING_PARENT
   */
  boolean put(Txn<ByteBuffer> txn, RecordWithBody item, @Nullable StoragePayment paymentOrNull)
      throws StorageException {
    Hash hash = item.hash();
    RecordHeader header = item.record().header();
    Hash id = header.capsuleId();
    if (metadata.get(txn, Layout.key(id)) == null) {
      throw new StorageException(Reason.UNKNOWN_CAPSULE,
          "record " + hash.toHex() + " belongs to capsule " + id.toHex() + ", which is not stored");
    }
    if (recordCapsule.get(txn, Layout.key(hash)) != null) {
      return false;
    }
    for (Hash parent : header.parents()) {
      if (!parent.equals(id) && !holds(txn, id, parent)) {
        throw new StorageException(Reason.MISSING_PARENT, "record " + hash.toHex() + " names parent "
            + parent.toHex() + ", which capsule " + id.toHex() + " does not hold");
      }
    }
    records.put(txn, Layout.key(hash), Layout.direct(StoredRecords.encode(item.record())));
    recordCapsule.put(txn, Layout.key(hash), Layout.key(id));
    List<byte[]> payloads = item.payloads();
    for (int i = 0; i < payloads.size(); i++) {
      bodies.put(txn, Layout.key(hash, i), Layout.direct(payloads.get(i)));
    }
    Hash witness = item.witnessOrNull();
    if (witness != null) {
      dropped.put(txn, Layout.key(hash), Layout.key(witness));
    } else if (paymentOrNull != null) {
      payments.put(txn, Layout.key(hash), Layout.direct(paymentOrNull.encode()));
    }
    trees.put(txn, Layout.key(hash), Layout.direct(item.tree().encodedLevels()));
    heights.put(txn, Layout.key(id, header.height(), hash), Layout.empty());
    for (Hash parent : header.parents()) {
      heads.delete(txn, Layout.key(id, parent));
    }
    heads.put(txn, Layout.key(id, hash), Layout.empty());
    if (header.kind() == RecordKind.MEMBERSHIP) {
      memberRecords.put(txn, Layout.key(id, hash), Layout.empty());
    }
    return true;
  }

  /**
   * Drops a held data record's payloads: deletes its bodies and payment, and names its witness; the
   * record, its tree and its index entries stay (LMDB reuses the freed pages for later writes).
   *
   * @return what its storage was paid with when this call dropped them (null when not paid for); the
   *     record itself when it was already dropped, which changes nothing
   * @throws StorageException UNKNOWN_RECORD or NOT_DROPPABLE
   */
  Dropped drop(Txn<ByteBuffer> txn, Hash capsuleId, Hash recordHash, Hash witness) throws StorageException {
    Record record = recordOfOrNull(txn, capsuleId, recordHash);
    if (record == null) {
      throw new StorageException(Reason.UNKNOWN_RECORD, "capsule " + capsuleId.toHex() + " holds no record "
          + recordHash.toHex() + " to drop the payloads of");
    }
    if (record.header().kind() != RecordKind.DATA) {
      throw new StorageException(Reason.NOT_DROPPABLE, "record " + recordHash.toHex()
          + " is a membership record, whose payload is never dropped");
    }
    if (dropped.get(txn, Layout.readKey(recordHash)) != null) {
      return Dropped.ALREADY;
    }
    StoragePayment payment = paymentOrNull(txn, recordHash);
    long count = record.header().subRecordCount();
    for (long i = 0; i < count; i++) {
      bodies.delete(txn, Layout.key(recordHash, i));
    }
    payments.delete(txn, Layout.key(recordHash));
    dropped.put(txn, Layout.key(recordHash), Layout.key(witness));
    return new Dropped(true, payment);
  }

  /** What {@link #drop} did. */
  record Dropped(boolean now, @Nullable StoragePayment paymentOrNull) {
    static final Dropped ALREADY = new Dropped(false, null);
  }
}
