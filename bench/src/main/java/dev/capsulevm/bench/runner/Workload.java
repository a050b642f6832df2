package dev.capsulevm.bench.runner;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.jspecify.annotations.Nullable;

/** Fixed keys, capsules, price tables and record chains shared by the experiments. */
final class Workload {
  static final SigningKey HOST = key(0x51);
  static final SigningKey CREATOR = key(0x52);
  static final SigningKey WRITER = key(0x53);
  static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
  static final long MAX_SUB_RECORDS = 1024;
  /** The program id the experiments' meters name: receipts are not looked at here. */
  static final Hash PROGRAM_ID = Sha256.untagged("bench-workload".getBytes(StandardCharsets.UTF_8));

  private Workload() {}

  static SigningKey key(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  static SignedMetadata metadata(SigningPolicy policy, String name) {
    return SignedMetadata.sign(Metadata.create(CREATOR.publicKey(), START.toEpochMilli(), policy, MAX_SUB_RECORDS,
        1 << 16, Map.of(WRITER.publicKey(), Permissions.ADD), name), CREATOR);
  }

  /** A price table of small prices and limits wide enough for every experiment. */
  static PriceTable table() {
    Map<InstructionKind, InstructionPrice> perKind = new EnumMap<>(InstructionKind.class);
    for (InstructionKind kind : InstructionKind.values()) {
      perKind.put(kind, InstructionPrice.of(100, 1));
    }
    Prices prices = new Prices(Amount.of(1000), Amount.of(1), perKind, Amount.of(1), Amount.of(1), Amount.of(1),
        Amount.of(1));
    Limits limits = new Limits(64 << 20, 4096, 64 << 20, (int) MAX_SUB_RECORDS, 64, Amount.ofCap(1_000_000_000));
    return new PriceTable(HOST.publicKey(), START, START.plusSeconds(365L * 24 * 3600), prices, limits);
  }

  /** A meter for a program naming {@code capsuleIdOrNull} (its receipt states it); refunds go nowhere. */
  static Meter meter(PriceTable table, @Nullable Hash capsuleIdOrNull, long programBytes) throws Exception {
    return Meter.open(table, PROGRAM_ID, capsuleIdOrNull, Amount.ofCap(1_000_000), programBytes, 1,
        (amount, programId) -> { }, Clock.systemUTC());
  }

  static List<byte[]> payloads(int count, int size, Random random) {
    List<byte[]> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      byte[] payload = new byte[size];
      random.nextBytes(payload);
      out.add(payload);
    }
    return out;
  }

  /**
   * A linear capsule of {@code records} records of {@code perRecord} sub-records each, as a host holds
   * it: headers by hash, and each record's payloads and Merkle tree (kept, as a host keeps them).
   * Records are unsigned but the last (signatures do not enter record proofs, and signing a million
   * records would only slow the set-up).
   */
  static final class Chain {
    final Hash capsuleId;
    final InMemoryRecordSource source = new InMemoryRecordSource();
    final List<RecordHeader> headers = new ArrayList<>();
    final List<List<byte[]>> payloads = new ArrayList<>();
    final List<MerkleTree> trees = new ArrayList<>();

    Chain(int records, int perRecord, int payloadBytes, long seed) {
      capsuleId = metadata(SigningPolicy.HEARTBEAT, "chain").capsuleId();
      Random random = new Random(seed);
      Hash parent = capsuleId;
      for (int i = 0; i < records; i++) {
        List<byte[]> body = payloads(perRecord, payloadBytes, random);
        Record record = Record.build(capsuleId, List.of(parent), body, START.toEpochMilli() + i, WRITER,
            i == records - 1, source);
        source.add(record.header());
        headers.add(record.header());
        payloads.add(body);
        trees.add(MerkleTree.ofLeaves(body));
        parent = record.hash();
      }
    }

    Hash head() {
      return headers.get(headers.size() - 1).hash();
    }

    /** The header at height {@code h} (1-based). */
    RecordHeader at(long h) {
      return headers.get((int) h - 1);
    }
  }
}
