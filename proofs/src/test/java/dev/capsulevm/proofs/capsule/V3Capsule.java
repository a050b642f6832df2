package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.MemberStates;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Epochs;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.KeystoreFixture;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Op;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * A private (version-3) capsule in memory, for tests of the host-side rules: the creator is {@link
 * TestCapsule#CREATOR}, the genesis members {@link TestCapsule#WRITER} (read + add) and {@link
 * TestCapsule#READER} (read); the genesis epoch {@link #GENESIS_EPOCH} is wrapped for the three. Keystore
 * blocks come from {@link KeystoreFixture} (real card signatures, stand-in wraps); a data record's enc is
 * a stand-in and its payload is not encrypted, since nothing here opens it.
 */
public final class V3Capsule {
  public static final EpochKey GENESIS_EPOCH = KeystoreFixture.epoch("genesis");

  public final SignedMetadata metadata;
  public final InMemoryRecordSource source = new InMemoryRecordSource();
  public final Map<Hash, Op> ops = new ConcurrentHashMap<>();
  public final Changelog changelog = ops::get;
  public final RecordValidator validator;
  /** Every key a test may name in a keystore block, to sign its card. */
  private final Map<PublicKey, SigningKey> signers = new ConcurrentHashMap<>();
  private long clock = 1_700_000_000_000L;

  public V3Capsule(SigningPolicy policy) {
    for (SigningKey key : List.of(TestCapsule.CREATOR, TestCapsule.WRITER, TestCapsule.READER, TestCapsule.STRANGER)) {
      signers.put(key.publicKey(), key);
    }
    metadata = SignedMetadata.sign(
        Metadata.createV3(TestCapsule.CREATOR.publicKey(), clock, policy, 16, 1 << 16,
            Map.of(TestCapsule.WRITER.publicKey(), Permissions.READ | Permissions.ADD,
                TestCapsule.READER.publicKey(), Permissions.READ),
            "v3 test capsule",
            KeystoreFixture.rotate(GENESIS_EPOCH, List.of(), TestCapsule.CREATOR, TestCapsule.WRITER, TestCapsule.READER)),
        TestCapsule.CREATOR);
    validator = new RecordValidator(metadata);
  }

  /** Lets blocks name {@code key} (signs its card). */
  public void know(SigningKey key) {
    signers.put(key.publicKey(), key);
  }

  public Hash id() {
    return metadata.capsuleId();
  }

  public Membership membership() {
    return Objects.requireNonNull(validator.membershipOrNull());
  }

  /** The epochs at a record after {@code parents}. */
  public Epochs epochsAfter(List<Hash> parents) {
    return Record.draft(parents, source, changelog, membership()).epochsOrNull();
  }

  /** The member states a proof generator needs, from the held records. */
  public MemberStates memberStates() {
    return hash -> {
      RecordHeader header = source.headerOrNull(hash);
      return header == null ? null : membership().stateBefore(header.authParents(), changelog);
    };
  }

  /** A rotate block starting {@code epoch} for {@code members} (known keys), linking {@code previous}. */
  public Keystore rotate(EpochKey epoch, List<EpochKey> previous, PublicKey... members) {
    return KeystoreFixture.rotate(epoch, previous, signersOf(members));
  }

  /** A forward block of {@code epoch} for {@code members} (known keys). */
  public Keystore forward(EpochKey epoch, PublicKey... members) {
    return KeystoreFixture.forward(epoch, signersOf(members));
  }

  /** The readers after {@code parents}, for a rotate block that keeps them all. */
  public PublicKey[] readersAfter(List<Hash> parents) {
    return Epochs.readersOf(Record.draft(parents, source, changelog, membership()).stateBefore()).toArray(PublicKey[]::new);
  }

  private SigningKey[] signersOf(PublicKey... members) {
    return Arrays.stream(members).map(m -> Objects.requireNonNull(signers.get(m), "unknown key " + m)).toArray(SigningKey[]::new);
  }

  /** A signed data record by {@code writer} under the current epoch after {@code parents}. */
  public RecordWithBody data(SigningKey writer, List<Hash> parents, String tag) {
    Record.Draft draft = Record.draft(parents, source, changelog, membership());
    EpochKey current = draft.currentEpochOrNull();
    return dataUnder(writer, parents, tag, current == null ? GENESIS_EPOCH : current);
  }

  /** A signed data record by {@code writer} under {@code epoch}, whatever the current one is. */
  public RecordWithBody dataUnder(SigningKey writer, List<Hash> parents, String tag, EpochKey epoch) {
    List<byte[]> payloads = List.of(tag.getBytes(StandardCharsets.UTF_8));
    byte[] enc = new byte[Keystore.ENC_LENGTH];
    Arrays.fill(enc, (byte) 0xec);
    Record record = Record.buildV3(parents, payloads, clock++, writer, true, RecordKind.DATA, epoch, enc, source,
        changelog, membership());
    return new RecordWithBody(record, payloads);
  }

  /** A signed membership record by {@code author} making {@code change}, with {@code blockOrNull}. */
  public RecordWithBody change(SigningKey author, List<Hash> parents, MemberChange change, @Nullable Keystore blockOrNull) {
    List<byte[]> payloads = new ArrayList<>();
    payloads.add(change.encode());
    if (blockOrNull != null) {
      payloads.add(blockOrNull.encode());
    }
    Record record = Record.buildV3(parents, payloads, clock++, author, true, RecordKind.MEMBERSHIP, null, null, source,
        changelog, membership());
    return new RecordWithBody(record, payloads);
  }

  /** Validates {@code append} against what is held, then holds it. */
  public void append(List<RecordWithBody> append) throws VerificationException {
    validator.validateAppend(append, source, changelog);
    hold(append);
  }

  /** Holds {@code records} without validating them. */
  public void hold(List<RecordWithBody> records) {
    for (RecordWithBody item : records) {
      source.add(item.record().header());
      if (item.record().header().kind() == RecordKind.MEMBERSHIP) {
        try {
          ops.put(item.hash(), Membership.opOf(item));
        } catch (VerificationException e) {
          throw new AssertionError(e);
        }
      }
    }
  }

  /** Validates and holds one record; returns it. */
  public RecordWithBody appendOne(RecordWithBody item) throws VerificationException {
    append(List.of(item));
    return item;
  }
}
