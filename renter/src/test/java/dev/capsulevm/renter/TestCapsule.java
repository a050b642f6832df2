package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A capsule built in memory by a real {@link CapsuleWriter}, for tests that script the host's answers. */
final class TestCapsule {
  final SigningKey creator = SigningKey.generate();
  final SigningKey writerKey = SigningKey.generate();
  /** Version 1: these tests script proofs without member entries (members have their own tests). */
  final SignedMetadata metadata = SignedMetadata.sign(Metadata.create(creator.publicKey(), 1,
      SigningPolicy.EVERY_RECORD, 1000, 256, Map.of(writerKey.publicKey(), Permissions.READ | Permissions.ADD),
      "scripted"), creator);
  final CapsuleWriter writer = new CapsuleWriter(metadata, writerKey, List.of(), List.of());
  final Map<Hash, RecordWithBody> records = new LinkedHashMap<>();

  Hash id() {
    return metadata.capsuleId();
  }

  /** The records of the next append on the writer's heads (not yet adopted: see {@link #commit}). */
  List<RecordWithBody> next(String prefix, int subRecords) {
    List<byte[]> payloads = new ArrayList<>();
    for (int i = 0; i < subRecords; i++) {
      payloads.add((prefix + " " + i).getBytes(StandardCharsets.UTF_8));
    }
    try {
      return writer.buildRecords(List.of(payloads), 1_000 + records.size());
    } catch (CapsuleWriter.MissingHeaderException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Adopts an append as committed: its last record becomes the only head. */
  RecordWithBody commit(List<RecordWithBody> appended) {
    appended.forEach(r -> records.put(r.hash(), r));
    RecordWithBody last = appended.get(appended.size() - 1);
    writer.committed(appended, List.of(last.hash()));
    return last;
  }

  /** Appends one record of {@code subRecords} sub-records and adopts it. */
  RecordWithBody append(String prefix, int subRecords) {
    return commit(next(prefix, subRecords));
  }

  Record head() {
    return writer.heads().get(0);
  }

  RecordSource source() {
    return h -> {
      RecordWithBody r = records.get(h);
      return r == null ? null : r.record().header();
    };
  }

  /** A builder on this capsule holding its metadata, its heads and every header. */
  ProgramBuilder builder() {
    List<RecordHeader> heads = new ArrayList<>();
    writer.heads().forEach(r -> heads.add(r.header()));
    return new ProgramBuilder(id(), metadata, heads, h -> source().headerOrNull(h));
  }
}
