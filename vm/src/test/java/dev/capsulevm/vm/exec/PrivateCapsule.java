package dev.capsulevm.vm.exec;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Membership;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.privacy.DecryptionException;
import dev.capsulevm.proofs.privacy.EpochSecret;
import dev.capsulevm.proofs.privacy.RecordCipher;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.crypto.params.X25519PrivateKeyParameters;
import org.jspecify.annotations.Nullable;

/**
 * A private (version-3) capsule as a renter builds it, with real cryptography, for tests of the host
 * side: real epoch secrets, wraps for each reader's card and previous links ({@link EpochSecret}), real
 * ciphertexts ({@link RecordCipher}). The creator is {@link #CREATOR}; the genesis members {@link #WRITER}
 * (read + add) and {@link #READER} (read); the genesis epoch is wrapped for the three. The test keeps every
 * epoch secret it made, and reads back through a member's own wrap ({@link #open}). Host tests use it
 * through vm's test-jar.
 */
public final class PrivateCapsule {
  /** A member: its Ed25519 identity, its X25519 key and its member card's signature binding the two. */
  public record Member(SigningKey identity, X25519PrivateKeyParameters x25519, Signature card) {
    public PublicKey key() {
      return identity.publicKey();
    }

    public byte[] x25519Public() {
      return x25519.generatePublicKey().getEncoded();
    }

    /** {@code secret} wrapped for this member (its keystore entry). */
    public Keystore.Entry wrap(EpochSecret secret) {
      return secret.wrapFor(key(), x25519Public(), card);
    }
  }

  /** The member with identity {@code identity} and the X25519 private key of 32 bytes {@code x25519Fill}. */
  public static Member member(SigningKey identity, int x25519Fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) x25519Fill);
    X25519PrivateKeyParameters key = new X25519PrivateKeyParameters(seed, 0);
    byte[] signed = new byte[64];
    identity.publicKey().copyTo(signed, 0);
    key.generatePublicKey().encode(signed, 32);
    return new Member(identity, key, identity.sign(Domain.MEMBER_CARD_SIGNATURE, signed));
  }

  public static final Member CREATOR = member(TestCapsule.CREATOR, 0x61);
  public static final Member WRITER = member(TestCapsule.WRITER, 0x62);
  public static final Member READER = member(TestCapsule.READER, 0x63);
  public static final Member ADMIN = member(ExecFixture.key(0x71), 0x64);
  public static final Member NEWCOMER = member(ExecFixture.key(0x72), 0x65);

  public final SignedMetadata metadata;
  public final InMemoryRecordSource source = new InMemoryRecordSource();
  public final Map<Hash, Op> ops = new ConcurrentHashMap<>();
  public final Changelog changelog = ops::get;
  public final Membership membership;
  private final SecureRandom random = new SecureRandom();
  private final Map<EpochKey, EpochSecret> secrets = new ConcurrentHashMap<>();
  private final EpochKey genesisEpoch;
  private long clock = 1_700_000_000_000L;

  public PrivateCapsule(SigningPolicy policy) {
    EpochSecret genesis = fresh();
    genesisEpoch = genesis.epochKey();
    Keystore block = Keystore.rotate(genesisEpoch, List.of(),
        List.of(CREATOR.wrap(genesis), WRITER.wrap(genesis), READER.wrap(genesis)));
    metadata = SignedMetadata.sign(
        Metadata.createV3(CREATOR.key(), clock, policy, 16, 1 << 16,
            Map.of(WRITER.key(), Permissions.READ | Permissions.ADD, READER.key(), Permissions.READ),
            "private test capsule", block),
        CREATOR.identity());
    membership = new Membership(metadata);
  }

  private EpochSecret fresh() {
    EpochSecret secret = EpochSecret.generate(random);
    secrets.put(secret.epochKey(), secret);
    return secret;
  }

  public Hash id() {
    return metadata.capsuleId();
  }

  /** The epoch the metadata's keystore block starts. */
  public EpochKey genesisEpoch() {
    return genesisEpoch;
  }

  /** The epoch a data record after {@code parents} must be written under; null when none is usable. */
  public @Nullable EpochKey currentEpochAfter(List<Hash> parents) {
    return Record.draft(parents, source, changelog, membership).currentEpochOrNull();
  }

  /** A signed data record by {@code writer} after {@code parents}, its payloads sealed under the current epoch. */
  public RecordWithBody data(Member writer, List<Hash> parents, String... plaintexts) {
    EpochKey current = currentEpochAfter(parents);
    if (current == null) {
      throw new IllegalStateException("no epoch is usable after " + parents + ": a reader must rekey");
    }
    return dataUnder(writer, parents, current, plaintexts);
  }

  /** A signed data record by {@code writer} after {@code parents}, sealed under {@code epoch} whatever is current. */
  public RecordWithBody dataUnder(Member writer, List<Hash> parents, EpochKey epoch, String... plaintexts) {
    Record.Draft draft = Record.draft(parents, source, changelog, membership);
    RecordCipher cipher = RecordCipher.forWriter(epoch, id(), writer.key(), draft.height(), random);
    List<byte[]> payloads = new ArrayList<>();
    for (int i = 0; i < plaintexts.length; i++) {
      payloads.add(cipher.seal(i, plaintexts[i].getBytes(StandardCharsets.UTF_8)));
    }
    Record record = draft.build(payloads, clock++, writer.identity(), true, RecordKind.DATA, epoch, cipher.enc());
    return new RecordWithBody(record, payloads);
  }

  /** A signed membership record by {@code author} after {@code parents}: the change, then the block if any. */
  public RecordWithBody change(Member author, List<Hash> parents, MemberChange change, @Nullable Keystore blockOrNull) {
    List<byte[]> payloads = new ArrayList<>();
    payloads.add(change.encode());
    if (blockOrNull != null) {
      payloads.add(blockOrNull.encode());
    }
    Record record = Record.buildV3(parents, payloads, clock++, author.identity(), true, RecordKind.MEMBERSHIP, null,
        null, source, changelog, membership);
    return new RecordWithBody(record, payloads);
  }

  /** A rotate block: a fresh epoch wrapped for {@code readers}, with links to the {@code previous} epochs. */
  public Keystore rotate(List<EpochKey> previous, Member... readers) {
    EpochSecret secret = fresh();
    List<Keystore.PreviousLink> links = new ArrayList<>();
    for (EpochKey key : previous) {
      links.add(secret.sealPrevious(secretOf(key)));
    }
    return Keystore.rotate(secret.epochKey(), links, Arrays.stream(readers).map(m -> m.wrap(secret)).toList());
  }

  /** A forward block: epoch {@code epoch} wrapped for {@code readers}. */
  public Keystore forward(EpochKey epoch, Member... readers) {
    EpochSecret secret = secretOf(epoch);
    return Keystore.forward(epoch, Arrays.stream(readers).map(m -> m.wrap(secret)).toList());
  }

  private EpochSecret secretOf(EpochKey epoch) {
    return Objects.requireNonNull(secrets.get(epoch), "no secret of epoch " + epoch);
  }

  /**
   * Sub-record {@code index} of the data record {@code header}, {@code payload} as a host returned it,
   * opened by {@code reader}: the epoch secret from the reader's own entry in a keystore block of the
   * capsule (the metadata's or a held membership record's), then the record's cipher.
   *
   * @throws DecryptionException when the reader's entry does not open, or the payload does not
   * @throws IllegalStateException when no block wraps the record's epoch for the reader
   */
  public String open(Member reader, RecordHeader header, int index, byte[] payload) throws DecryptionException {
    EpochKey epoch = Objects.requireNonNull(header.epochKeyOrNull(), "a data record of a private capsule");
    List<Keystore> blocks = new ArrayList<>();
    blocks.add(Objects.requireNonNull(metadata.metadata().genesisKeystoreOrNull()));
    for (Op op : ops.values()) {
      if (op.keystoreOrNull() != null) {
        blocks.add(op.keystoreOrNull());
      }
    }
    for (Keystore block : blocks) {
      Keystore.Entry entry = block.epochKey().equals(epoch) ? block.entryOrNull(reader.key()) : null;
      if (entry != null) {
        EpochSecret secret = EpochSecret.unwrap(entry, epoch, reader.x25519());
        RecordCipher cipher = RecordCipher.forReader(secret, Objects.requireNonNull(header.encOrNull()), id(),
            header.writer(), header.height());
        return new String(cipher.open(index, payload), StandardCharsets.UTF_8);
      }
    }
    throw new IllegalStateException("no keystore block wraps epoch " + epoch + " for " + reader.key());
  }

  /** Holds {@code records} (the renter's copy) without validating them. */
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
}
