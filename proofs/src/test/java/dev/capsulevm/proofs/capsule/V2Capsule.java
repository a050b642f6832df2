package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.MemberStates;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Op;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A version-2 capsule in memory, for tests: the creator is {@link TestCapsule#CREATOR}, the genesis
 * members {@link TestCapsule#WRITER} (read + add) and {@link TestCapsule#READER} (read). Appends are
 * validated; the held records and membership records are kept.
 */
public final class V2Capsule {
  public final SignedMetadata metadata;
  public final InMemoryRecordSource source = new InMemoryRecordSource();
  public final Map<Hash, Op> ops = new ConcurrentHashMap<>();
  public final Changelog changelog = ops::get;
  public final RecordValidator validator;
  private long clock = 1_700_000_000_000L;

  public V2Capsule(SigningPolicy policy) {
    metadata = SignedMetadata.sign(
        Metadata.createV2(TestCapsule.CREATOR.publicKey(), clock, policy, 16, 1 << 16,
            Map.of(TestCapsule.WRITER.publicKey(), Permissions.READ | Permissions.ADD,
                TestCapsule.READER.publicKey(), Permissions.READ),
            "v2 test capsule"),
        TestCapsule.CREATOR);
    validator = new RecordValidator(metadata);
  }

  /** Moves the timestamp the next record gets forward by {@code millis} (each record adds 1 anyway). */
  public void advanceClock(long millis) {
    clock += millis;
  }

  /** The timestamp the next record gets. */
  public long nextTimestamp() {
    return clock;
  }

  public Hash id() {
    return metadata.capsuleId();
  }

  public Membership membership() {
    return validator.membershipOrNull();
  }

  /** The member states a proof generator needs, from the held records. */
  public MemberStates memberStates() {
    return hash -> {
      RecordHeader header = source.headerOrNull(hash);
      return header == null ? null : membership().stateBefore(header.authParents(), changelog);
    };
  }

  /** A signed data record after {@code parents} by {@code writer}, built but not validated. */
  public RecordWithBody data(SigningKey writer, List<Hash> parents, String tag) {
    return build(writer, parents, List.of(tag.getBytes(java.nio.charset.StandardCharsets.UTF_8)), RecordKind.DATA, true);
  }

  /** A signed membership record after {@code parents} by {@code author}, built but not validated. */
  public RecordWithBody change(SigningKey author, List<Hash> parents, MemberChange change) {
    return build(author, parents, List.of(change.encode()), RecordKind.MEMBERSHIP, true);
  }

  public RecordWithBody build(SigningKey writer, List<Hash> parents, List<byte[]> payloads, RecordKind kind, boolean sign) {
    Record record = Record.buildV2(id(), parents, payloads, clock++, writer, sign, kind, source, changelog, metadata);
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
          ops.put(item.hash(), Membership.opOf(item.record().header(), MemberChange.parse(item.payloads().get(0))));
        } catch (VerificationException e) {
          throw new AssertionError(e);
        }
      }
    }
  }

  /** Builds, validates and holds one record; returns it. */
  public RecordWithBody appendOne(RecordWithBody item) throws VerificationException {
    append(List.of(item));
    return item;
  }
}
