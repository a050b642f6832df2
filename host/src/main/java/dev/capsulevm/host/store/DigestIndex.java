package dev.capsulevm.host.store;

import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.proofs.Hash;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.lmdbjava.Dbi;
import org.lmdbjava.Txn;

/**
 * Each capsule's set digest in {@code digests}: the sum of its record hashes as 256-bit big-endian
 * integers mod 2^256 (32) then their count (u64), {@link SetDigest}'s sum and count. It is moved by every
 * new record in the commit that stores it, so a sync session's quick check reads 40 bytes.
 */
final class DigestIndex {
  /** A digest value: sum (32) then count (u64). */
  private static final int LENGTH = Hash.LENGTH + Long.BYTES;

  private final Dbi<ByteBuffer> digests;

  DigestIndex(LmdbEnvironment environment) {
    this.digests = environment.dbi(Layout.DB_DIGESTS);
  }

  /** The kept digest of a stored capsule. */
  SetDigest read(Txn<ByteBuffer> txn, Hash capsuleId) {
    ByteBuffer stored = digests.get(txn, Layout.readKey(capsuleId));
    if (stored == null) {
      throw new StorageCorruptionException("database " + Layout.DB_DIGESTS + " lacks key " + capsuleId.toHex()
          + ", which " + Layout.DB_METADATA + " holds");
    }
    if (stored.remaining() != LENGTH) {
      throw new StorageCorruptionException("database " + Layout.DB_DIGESTS + ", key " + capsuleId.toHex()
          + ": value is " + stored.remaining() + " bytes, not a digest");
    }
    byte[] sum = new byte[Hash.LENGTH];
    stored.get(stored.position(), sum);
    long count = Layout.longAt(stored, stored.position() + Hash.LENGTH);
    if (count < 0) {
      throw new StorageCorruptionException("database " + Layout.DB_DIGESTS + ", key " + capsuleId.toHex()
          + ": negative count " + count);
    }
    return SetDigest.of(sum, count);
  }

  /** Writes a new capsule's digest: empty. */
  void start(Txn<ByteBuffer> txn, Hash capsuleId) {
    put(txn, capsuleId, new SetDigest());
  }

  /**
   * Adds {@code recordHash} to its capsule's digest. Only for a record new to the store, in the
   * transaction that stores it: the digest counts each record once.
   */
  void add(Txn<ByteBuffer> txn, Hash capsuleId, Hash recordHash) {
    SetDigest digest = read(txn, capsuleId);
    digest.add(recordHash);
    put(txn, capsuleId, digest);
  }

  private void put(Txn<ByteBuffer> txn, Hash capsuleId, SetDigest digest) {
    ByteBuffer value = ByteBuffer.allocateDirect(LENGTH);
    value.put(digest.sumBytes()).putLong(digest.count()).flip();
    digests.put(txn, Layout.key(capsuleId), value);
  }

  /**
   * Computes, from {@code heights}, the digest of every capsule that has none: a store written before
   * digests were kept gets them once, on its first open by this version, in one write transaction.
   */
  void addMissing(LmdbEnvironment environment, CapsuleDatabases capsules) {
    List<Hash> missing = environment.read(txn -> {
      List<Hash> out = new ArrayList<>();
      for (Hash id : capsules.capsuleIds(txn)) {
        if (digests.get(txn, Layout.readKey(id)) == null) {
          out.add(id);
        }
      }
      return out;
    });
    if (missing.isEmpty()) {
      return;
    }
    environment.update(txn -> {
      byte[] id = new byte[Hash.LENGTH];
      for (Hash capsuleId : missing) {
        SetDigest digest = new SetDigest();
        capsules.forEachRecordId(txn, capsuleId, (l0, l1, l2, l3) -> {
          ByteBuffer.wrap(id).putLong(l0).putLong(l1).putLong(l2).putLong(l3);
          digest.add(Hash.copyOf(id));
        });
        put(txn, capsuleId, digest);
      }
    });
  }
}
