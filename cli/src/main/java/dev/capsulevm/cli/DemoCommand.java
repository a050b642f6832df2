package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordValidator;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofCache;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.integrity.SubRecordProof;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code capsulevm demo}: the integrity core end to end, in one process: a capsule is created, records
 * are appended and validated, every sub-record of the newest records is proven from the head and
 * verified, and a tampered proof is refused. (The host daemon and the gRPC demo come later.)
 */
@Command(name = "demo", description = "Create a capsule in memory, append records, prove and verify them.")
final class DemoCommand implements Callable<Integer> {
  @Option(names = "--records", description = "Records to append (default: ${DEFAULT-VALUE}).", defaultValue = "1000")
  int records;

  @Option(names = "--sub-records", description = "Sub-records per record (default: ${DEFAULT-VALUE}).", defaultValue = "16")
  int subRecords;

  @Option(names = "--policy", description = "EVERY_RECORD or HEARTBEAT (default: ${DEFAULT-VALUE}).", defaultValue = "EVERY_RECORD")
  SigningPolicy policy;

  @Option(names = "--append-size", description = "Records per append (default: ${DEFAULT-VALUE}).", defaultValue = "10")
  int appendSize;

  @Override
  public Integer call() throws VerificationException {
    PrintStream out = System.out;
    if (records < 1 || subRecords < 1 || appendSize < 1) {
      System.err.println("capsulevm demo: --records, --sub-records and --append-size must be at least 1");
      return Main.EXIT_USAGE;
    }
    SigningKey creator = SigningKey.generate();
    SigningKey writer = SigningKey.generate();
    SignedMetadata metadata = SignedMetadata.sign(
        Metadata.create(creator.publicKey(), System.currentTimeMillis(), policy, Math.max(subRecords, 1),
            1 << 16, Map.of(writer.publicKey(), Permissions.READ | Permissions.ADD), "capsulevm demo"),
        creator);
    out.println("capsule   " + metadata.capsuleId() + " (" + policy + ")");
    out.println("writer    " + writer.publicKey().toHex());

    InMemoryRecordSource store = new InMemoryRecordSource();
    Map<Hash, List<byte[]>> bodies = new HashMap<>();
    RecordValidator validator = new RecordValidator(metadata);
    Hash head = metadata.capsuleId();
    long started = System.nanoTime();
    for (int first = 0; first < records; first += appendSize) {
      int count = Math.min(appendSize, records - first);
      Map<Hash, dev.capsulevm.proofs.capsule.RecordHeader> staged = new HashMap<>();
      RecordSource view = h -> staged.containsKey(h) ? staged.get(h) : store.headerOrNull(h);
      List<RecordWithBody> append = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        List<byte[]> payloads = payloads(first + i);
        boolean sign = policy == SigningPolicy.EVERY_RECORD || i == count - 1;
        Record record = Record.build(metadata.capsuleId(), List.of(head), payloads,
            System.currentTimeMillis(), writer, sign, view);
        staged.put(record.hash(), record.header());
        append.add(new RecordWithBody(record, payloads));
        head = record.hash();
      }
      validator.validateAppend(append, store);
      for (RecordWithBody item : append) {
        store.add(item.record().header());
        bodies.put(item.hash(), item.payloads());
      }
    }
    double appendMillis = (System.nanoTime() - started) / 1e6;
    out.printf("appended  %d records of %d sub-records, every one validated (%.0f ms)%n",
        records, subRecords, appendMillis);

    ProofGenerator generator = new ProofGenerator(store);
    ProofCache cache = new ProofCache(10_000);
    ProofVerifier verifier = new ProofVerifier(cache);
    // The head is the reader's anchor: in the real protocol it arrives signed with the Heads output.
    verifier.trust(store.headerOrNull(head));
    int proven = 0;
    long proofBytes = 0;
    Hash target = head;
    started = System.nanoTime();
    for (int r = 0; r < Math.min(10, records); r++) {
      MerkleTree tree = MerkleTree.ofLeaves(bodies.get(target));
      for (int i = 0; i < subRecords; i++) {
        SubRecordProof proof = generator.subRecordProof(head, target, i, tree);
        verifier.verifySubRecord(null, target, i, bodies.get(target).get(i), proof);
        proofBytes += proof.recordProof().encodedLength() + 32L * proof.inclusion().path().size();
        proven++;
      }
      target = store.headerOrNull(target).primaryParent();
    }
    out.printf("verified  %d sub-records of the 10 newest records against the head (%.1f ms, %d proof bytes,"
        + " cache hits %d)%n", proven, (System.nanoTime() - started) / 1e6, proofBytes, cache.hits());

    Hash oldest = firstRecord(store, head);
    RecordProof deep = generator.recordProof(head, oldest);
    out.printf("proof     record 1 from the head at height %d: %d headers, %d bytes%n",
        records, deep.headers().size(), deep.encodedLength());
    List<byte[]> tampered = new ArrayList<>();
    deep.headers().forEach(h -> tampered.add(h.encoded()));
    tampered.get(tampered.size() / 2)[100] ^= 1; // inside the sub-record root
    try {
      new ProofVerifier(null).verifyRecord(head, oldest, RecordProof.parse(tampered));
      out.println("tamper    NOT DETECTED");
      return 1;
    } catch (VerificationException expected) {
      out.println("tamper    one flipped bit refused: " + expected.getMessage());
    }
    return 0;
  }

  private List<byte[]> payloads(int record) {
    List<byte[]> payloads = new ArrayList<>(subRecords);
    for (int i = 0; i < subRecords; i++) {
      payloads.add(("record " + record + ", sub-record " + i).getBytes(StandardCharsets.UTF_8));
    }
    return payloads;
  }

  private static Hash firstRecord(RecordSource store, Hash head) {
    Hash at = head;
    while (store.headerOrNull(at).height() > 1) {
      at = store.headerOrNull(at).primaryParent();
    }
    return at;
  }
}
