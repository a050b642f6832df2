package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** A capsule in memory with fixed keys, for tests: appends validated records and tracks them. */
public final class TestCapsule {
  public static final SigningKey CREATOR = key(1);
  public static final SigningKey WRITER = key(2);
  public static final SigningKey READER = key(3);
  public static final SigningKey STRANGER = key(4);

  public final SignedMetadata metadata;
  public final InMemoryRecordSource source = new InMemoryRecordSource();
  public final RecordValidator validator;
  public final List<RecordWithBody> records = new ArrayList<>();
  private long clock = 1_700_000_000_000L;

  public TestCapsule(SigningPolicy policy) {
    this(policy, 1024);
  }

  public TestCapsule(SigningPolicy policy, long maxSubRecords) {
    Metadata body =
        Metadata.create(
            CREATOR.publicKey(),
            1_700_000_000_000L,
            policy,
            maxSubRecords,
            1 << 20,
            Map.of(WRITER.publicKey(), Permissions.ADD | Permissions.READ, READER.publicKey(), Permissions.READ),
            "test capsule");
    metadata = SignedMetadata.sign(body, CREATOR);
    validator = new RecordValidator(metadata);
  }

  public static SigningKey key(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  public Hash id() {
    return metadata.capsuleId();
  }

  /** Payloads "r<height-ish>-<i>" so each record differs. */
  public static List<byte[]> payloads(String tag, int count) {
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      out.add((tag + "-" + i).getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }

  /** Builds, validates and stores a signed record after {@code parents}. */
  public RecordWithBody append(List<Hash> parents, List<byte[]> payloads) {
    Record record = Record.build(id(), parents, payloads, clock++, WRITER, true, source);
    RecordWithBody item = new RecordWithBody(record, payloads);
    try {
      validator.validateAppend(List.of(item), source);
    } catch (VerificationException e) {
      throw new AssertionError(e);
    }
    source.add(record.header());
    records.add(item);
    return item;
  }

  /** A chain of {@code length} one-sub-record records after {@code from}; returns the last. */
  public RecordWithBody chain(Hash from, int length, String tag) {
    RecordWithBody last = null;
    Hash parent = from;
    for (int i = 0; i < length; i++) {
      last = append(List.of(parent), payloads(tag + i, 1));
      parent = last.hash();
    }
    return last;
  }
}
