package dev.capsulevm.vm.storage;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
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
  public RecordWithBody record(List<Hash> parents, String tag, int count) {
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
}
