package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Builds signed capsules and records with fixed keys, for storage tests. */
public final class CapsuleFixture {
  private static final SigningKey CREATOR = key(11);
  private static final SigningKey WRITER = key(12);
  private static final SigningKey STRANGER = key(13);

  public final SignedMetadata metadata;
  private final InMemoryRecordSource built = new InMemoryRecordSource();
  private long clock = 1_800_000_000_000L;

  /** A capsule whose description is {@code name}, so different names give different ids. */
  public CapsuleFixture(String name) {
    metadata = SignedMetadata.sign(Metadata.create(CREATOR.publicKey(), 1_800_000_000_000L,
        SigningPolicy.EVERY_RECORD, 1024, 1 << 16, Map.of(WRITER.publicKey(), Permissions.ADD), name), CREATOR);
  }

  private static SigningKey key(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  public Hash id() {
    return metadata.capsuleId();
  }

  /** A signed record after {@code parents} (the capsule id for the first) with {@code count} sub-records. */
  public synchronized RecordWithBody record(List<Hash> parents, String tag, int count) {
    List<byte[]> payloads = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      payloads.add((tag + "-" + i).getBytes(StandardCharsets.UTF_8));
    }
    Record record = Record.build(id(), parents, payloads, clock++, WRITER, true, built);
    built.add(record.header());
    return new RecordWithBody(record, payloads);
  }

  public RecordWithBody record(Hash parent, String tag) {
    return record(List.of(parent), tag, 2);
  }

  /** A signed record after {@code parents} carrying exactly {@code payloads}. */
  public synchronized RecordWithBody record(List<Hash> parents, List<byte[]> payloads) {
    Record record = Record.build(id(), parents, payloads, clock++, WRITER, true, built);
    built.add(record.header());
    return new RecordWithBody(record, payloads);
  }

  /** A record after {@code parents} signed by a key the capsule does not let write. */
  public synchronized RecordWithBody recordByStranger(List<Hash> parents, String tag) {
    List<byte[]> payloads = List.of(tag.getBytes(StandardCharsets.UTF_8));
    Record record = Record.build(id(), parents, payloads, clock++, STRANGER, true, built);
    return new RecordWithBody(record, payloads);
  }

  /** {@code record} made again at {@code height} (parents, skip pointers and payloads kept) and signed. */
  public static RecordWithBody atHeight(RecordWithBody record, long height) {
    RecordHeader h = record.record().header();
    RecordHeader header = RecordHeader.create(h.capsuleId(), height, h.timestampMillis(), h.writer(),
        h.subRecordCount(), h.subRecordRoot(), h.parents(), h.skipPointers());
    return new RecordWithBody(Record.of(header, WRITER.sign(Domain.RECORD_SIGNATURE, header.hash().toByteArray())),
        record.payloads());
  }

  /** {@code record} with one bit of its signature flipped. */
  public static RecordWithBody withBadSignature(RecordWithBody record) {
    byte[] signature = new byte[Signature.LENGTH];
    record.record().signatureOrNull().copyTo(signature, 0);
    signature[5] ^= 1;
    return new RecordWithBody(Record.of(record.record().header(), Signature.copyOf(signature, 0, Signature.LENGTH)),
        record.payloads());
  }

  /** {@code record} without its signature. */
  public static RecordWithBody unsigned(RecordWithBody record) {
    return new RecordWithBody(Record.of(record.record().header(), null), record.payloads());
  }

  /** A signed record after {@code parents} whose skip pointers are looked up in {@code source}. */
  public synchronized RecordWithBody recordOver(RecordSource source, List<Hash> parents, List<byte[]> payloads) {
    Record record = Record.build(id(), parents, payloads, clock++, WRITER, true, source);
    return new RecordWithBody(record, payloads);
  }
}
