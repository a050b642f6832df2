package dev.capsulevm.renter;

import dev.capsulevm.program.Instruction;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.privacy.DecryptionException;
import dev.capsulevm.proofs.privacy.EpochSecret;
import dev.capsulevm.proofs.privacy.RecordCipher;
import dev.capsulevm.renter.access.EncryptionKey;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * The epoch secrets of one private capsule that this renter can open (docs/FORMAT.md, "Private capsules:
 * encryption"), found in the keystore blocks it holds: its own wrapped entry of an epoch, opened with its
 * X25519 key, or a previous link from an epoch it holds, followed through any number of links. Each secret
 * is checked to derive the epoch key it claims to open, then kept by epoch key (nothing is saved: the
 * capsule itself and the renter's X25519 key recover every secret again).
 *
 * <p>A renter is "in" an entry when the entry's x25519 key is its own, or when the entry names one of its
 * identities (then a wrap to another x25519 key is reported as such). Secrets never reach a log, a
 * {@code toString} or an exception message. Thread-safe.
 */
final class EpochKeyring {
  /** How many records' data keys are kept. */
  private static final int CACHED_CIPHERS = 16;

  private final Hash capsuleId;
  private final @Nullable EncryptionKey keyOrNull;
  private final byte @Nullable [] publicKeyOrNull;
  private final Set<PublicKey> identities;
  private final Map<EpochKey, EpochSecret> secrets = new ConcurrentHashMap<>();
  /**
   * The data keys of the records read last, by record hash: reading a record's sub-records one by one
   * takes one HPKE set-up (an X25519 agreement), not one per sub-record. Guarded by itself.
   */
  private final Map<Hash, RecordCipher> ciphers = new LinkedHashMap<>(16, 0.75f, true) {
    private static final long serialVersionUID = 1L;

    // An evicted cipher is left to the garbage collector, not destroyed: another thread may be using it.
    @Override
    protected boolean removeEldestEntry(Map.Entry<Hash, RecordCipher> eldest) {
      return size() > CACHED_CIPHERS;
    }
  };

  /**
   * @param keyOrNull this renter's X25519 key; null for a renter without one, which opens nothing
   * @param identities this renter's Ed25519 identities (the keys it is a member under)
   */
  EpochKeyring(Hash capsuleId, @Nullable EncryptionKey keyOrNull, Collection<PublicKey> identities) {
    this.capsuleId = Objects.requireNonNull(capsuleId, "capsuleId");
    this.keyOrNull = keyOrNull;
    this.publicKeyOrNull = keyOrNull == null ? null : keyOrNull.publicKey();
    this.identities = Set.copyOf(identities);
  }

  /** This renter's X25519 key, or null. */
  @Nullable EncryptionKey keyOrNull() {
    return keyOrNull;
  }

  /** The secret of {@code epoch} when this renter can open it from {@code blocks}, else null (whatever failed). */
  @Nullable EpochSecret secretOrNull(EpochKey epoch, List<Keystore> blocks) {
    return find(epoch, blocks, new HashSet<>(), new ArrayList<>());
  }

  /**
   * The secret of {@code epoch}, from {@code blocks} (the genesis block and those of the membership records
   * held, {@link MemberLog#keystores}).
   *
   * @param recordOrNull the record being read, for the messages
   * @throws MissingEpochKeyException when nothing this renter holds leads to the epoch
   * @throws DecryptionFailedException when an entry or link that should lead to it does not open (a wrong
   *     key, a wrap for another key or member, a changed wrap, or a secret of another epoch)
   */
  EpochSecret secret(EpochKey epoch, List<Keystore> blocks, @Nullable RecordHeader recordOrNull)
      throws MissingEpochKeyException, DecryptionFailedException {
    List<DecryptionException> failures = new ArrayList<>();
    EpochSecret found = find(epoch, blocks, new HashSet<>(), failures);
    if (found != null) {
      return found;
    }
    String what = recordOrNull == null ? "epoch " + epoch.toHex()
        : "record " + recordOrNull.hash().toHex() + " (height " + recordOrNull.height() + ")";
    if (!failures.isEmpty()) {
      DecryptionException first = failures.get(0);
      throw new DecryptionFailedException("cannot decrypt " + what + " of capsule " + capsuleId.toHex()
          + ": " + first.getMessage(), first);
    }
    boolean named = false;
    for (Keystore block : blocks) {
      named |= block.epochKey().equals(epoch);
    }
    throw new MissingEpochKeyException(epoch, recordOrNull == null ? null : recordOrNull.hash(),
        "this renter holds no key for " + (recordOrNull == null ? "" : what + " of capsule " + capsuleId.toHex()
            + ", written under ") + "epoch " + epoch.toHex() + ": "
            + (!named ? "no keystore block this renter holds names that epoch"
                : keyOrNull == null ? "it has no encryption key (its member card's X25519 key)"
                : "it was written before this renter was given read, or after its read was taken away"));
  }

  /**
   * The plaintexts of a private capsule's data record whose stored payloads are {@code payloads} (verified
   * against its header), sub-record {@code firstIndex} first.
   *
   * @throws IllegalArgumentException when the header is not a private capsule's data record
   */
  List<byte[]> open(RecordHeader header, long firstIndex, List<byte[]> payloads, List<Keystore> blocks)
      throws MissingEpochKeyException, DecryptionFailedException {
    EpochKey epoch = header.epochKeyOrNull();
    byte[] enc = header.encOrNull();
    if (header.kind() != RecordKind.DATA || epoch == null || enc == null) {
      throw new IllegalArgumentException("record " + header.hash() + " is not a data record of a private capsule");
    }
    RecordCipher cipher;
    synchronized (ciphers) {
      cipher = ciphers.get(header.hash());
    }
    if (cipher == null) {
      EpochSecret secret = secret(epoch, blocks, header);
      try {
        cipher = RecordCipher.forReader(secret, enc, header.capsuleId(), header.writer(), header.height());
      } catch (DecryptionException e) {
        throw new DecryptionFailedException("cannot decrypt record " + header.hash().toHex() + ": " + e.getMessage(), e);
      }
    }
    List<byte[]> out = new ArrayList<>(payloads.size());
    for (int i = 0; i < payloads.size(); i++) {
      long index = firstIndex + i;
      if (index > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("sub-record index " + index + " is beyond what the cipher numbers");
      }
      try {
        out.add(cipher.open((int) index, payloads.get(i)));
      } catch (DecryptionException e) {
        throw new DecryptionFailedException("cannot decrypt sub-record " + index + " of record "
            + header.hash().toHex() + ": " + e.getMessage(), e);
      }
    }
    // Kept only once a payload opened with it: the header (hashed, so its enc and epoch) is the cache key.
    synchronized (ciphers) {
      ciphers.putIfAbsent(header.hash(), cipher);
    }
    return out;
  }

  /**
   * The plaintext of a verified {@code ReadSubRecord} output of a private capsule's data record.
   *
   * @throws IllegalArgumentException when the output is not a sub-record read with its proven header
   * @throws SubRecordDroppedException when the host answered that the payload was dropped
   */
  byte[] plaintext(VerifiedOutput read, List<Keystore> blocks)
      throws MissingEpochKeyException, DecryptionFailedException {
    RecordHeader header = read.provenHeaderOrNull();
    if (!(read.instruction() instanceof Instruction.ReadSubRecord instruction) || header == null) {
      throw new IllegalArgumentException("output " + read.index() + " is not a verified sub-record read");
    }
    byte[] payload = read.payload();
    return open(header, instruction.index(), List.of(payload), blocks).get(0);
  }

  private @Nullable EpochSecret find(EpochKey epoch, List<Keystore> blocks, Set<EpochKey> visiting,
      List<DecryptionException> failures) {
    EpochSecret held = secrets.get(epoch);
    if (held != null || !visiting.add(epoch)) {
      return held;
    }
    EncryptionKey key = keyOrNull;
    if (key != null) {
      for (Keystore block : blocks) {
        if (!block.epochKey().equals(epoch)) {
          continue;
        }
        for (Keystore.Entry entry : block.entries()) {
          if (!isMine(entry)) {
            continue;
          }
          try {
            return keep(EpochSecret.unwrap(entry, epoch, key.privateKeyParameters()));
          } catch (DecryptionException e) {
            failures.add(e);
          }
        }
      }
    }
    for (Keystore block : blocks) {
      if (block.type() != Keystore.Type.ROTATE) {
        continue;
      }
      for (Keystore.PreviousLink link : block.previous()) {
        if (!link.epochKey().equals(epoch)) {
          continue;
        }
        EpochSecret newer = find(block.epochKey(), blocks, visiting, failures);
        if (newer == null) {
          continue;
        }
        try {
          return keep(newer.openPrevious(link));
        } catch (DecryptionException e) {
          failures.add(e);
        }
      }
    }
    return null;
  }

  private boolean isMine(Keystore.Entry entry) {
    byte[] mine = publicKeyOrNull;
    return identities.contains(entry.member()) || (mine != null && MessageDigest.isEqual(mine, entry.x25519()));
  }

  private EpochSecret keep(EpochSecret secret) {
    EpochSecret raced = secrets.putIfAbsent(secret.epochKey(), secret);
    return raced != null ? raced : secret;
  }

  /**
   * The epochs reachable from {@code epoch} through previous links of {@code blocks}' rotate blocks,
   * {@code epoch} included: what a holder of its secret can open.
   */
  static Set<EpochKey> reachableFrom(EpochKey epoch, List<Keystore> blocks) {
    Set<EpochKey> seen = new HashSet<>();
    ArrayDeque<EpochKey> pending = new ArrayDeque<>();
    seen.add(epoch);
    pending.add(epoch);
    while (!pending.isEmpty()) {
      EpochKey next = pending.pop();
      for (Keystore block : blocks) {
        if (block.type() == Keystore.Type.ROTATE && block.epochKey().equals(next)) {
          for (Keystore.PreviousLink link : block.previous()) {
            if (seen.add(link.epochKey())) {
              pending.add(link.epochKey());
            }
          }
        }
      }
    }
    return seen;
  }

  @Override
  public String toString() {
    return "EpochKeyring[capsule " + capsuleId.toHex() + ", " + secrets.size() + " epoch(s) open]";
  }
}
