package dev.capsulevm.host.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.ChildJvm;
import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.vm.exec.ExecutorStoreContract;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash safety: {@link CrashChild} commits groups of records with their ledger credits in a loop and is
 * killed with SIGKILL ({@link Process#destroyForcibly()} on Linux) at seeded random points of its own
 * progress: just as it starts committing a group, or just after it acknowledged one. After each kill the
 * store is reopened and checked whole: every group the child acknowledged is there, every record verifies
 * (header hash = key, signature, sub-record root, parents held in its capsule), every index agrees with
 * the records, every head is a stored record without children, and every group is there completely with
 * its credit or not at all. The kill points come from what the child reports, never from a length of
 * time, so a slow machine changes where inside its work the child dies, not what the test proves.
 */
class CrashSafetyTest {
  private static final int KILLS = Integer.getInteger("capsulevm.crash.kills", 22);
  private static final HexFormat HEX = HexFormat.of();

  @TempDir Path dir;

  @Test
  void aStoreKilledAtRandomMomentsReopensWithNothingHalfApplied() throws Exception {
    Path store = dir.resolve("store");
    SplittableRandom random = new SplittableRandom(20261124L);
    long groups = 0;
    for (int round = 0; round < KILLS; round++) {
      // This run starts at group `groups` and dies a few groups later: as a group's commit starts (the
      // kill races the commit's writes) or once a group is acknowledged (the next one is being built).
      long target = groups + random.nextInt(20);
      String killAt = (random.nextBoolean() ? CrashChild.COMMITTING : CrashChild.COMMITTED) + target;
      long acknowledged = groups - 1;
      try (ChildJvm child = ChildJvm.start(dir.resolve("child.log"), 128, CrashChild.class, store.toString())) {
        for (String line = child.nextLine(); !line.equals(killAt); line = child.nextLine()) {
          if (line.startsWith(CrashChild.COMMITTED)) {
            acknowledged = Long.parseLong(line.substring(CrashChild.COMMITTED.length()));
          }
        }
        assertEquals(137, child.kill(), "killed by SIGKILL");
      }
      if (killAt.startsWith(CrashChild.COMMITTED)) {
        acknowledged = target;
      }
      groups = verify(store);
      assertTrue(groups > acknowledged, "nothing acknowledged is lost: group " + acknowledged + " of " + groups);
    }
    System.out.println("crash safety: " + KILLS + " kills, " + groups + " groups committed");
  }

  /** Checks the whole store; returns how many groups it holds. */
  private static long verify(Path path) throws Exception {
    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(path, CrashChild.MAP_SIZE, 64)) {
      SortedMap<String, SortedMap<String, String>> dump = storage.dump();
      assertEquals(new TreeSet<>(LmdbCapsuleStorage.DATABASES), dump.keySet(), "exactly the store's databases");
      Hash capsule = CrashChild.CAPSULE.id();
      // metadata
      assertEquals(Set.of(capsule.toHex()), dump.get(Layout.DB_METADATA).keySet());
      SignedMetadata.parse(HEX.parseHex(dump.get(Layout.DB_METADATA).get(capsule.toHex())), capsule);
      // records: each verifies against its key, its signature, its parents and its bodies
      Map<Hash, RecordHeader> records = new HashMap<>();
      Map<Hash, Long> groupOf = new HashMap<>();
      SortedMap<String, String> bodies = dump.get(Layout.DB_BODIES);
      int bodyCount = 0;
      for (Map.Entry<String, String> e : dump.get(Layout.DB_RECORDS).entrySet()) {
        Hash hash = Hash.copyOf(HEX.parseHex(e.getKey()));
        Record record = StoredRecords.decode(hash, HEX.parseHex(e.getValue()));
        RecordHeader header = record.header();
        assertNotNull(record.signatureOrNull(), "every record is signed");
        assertTrue(header.writer().verify(Domain.RECORD_SIGNATURE, hash.toByteArray(), record.signatureOrNull()),
            "signature of " + hash);
        assertEquals(capsule, header.capsuleId());
        List<byte[]> payloads = new ArrayList<>();
        for (long i = 0; i < header.subRecordCount(); i++) {
          String body = bodies.get(HEX.formatHex(Layout.prefix(hash, i)));
          assertNotNull(body, "sub-record " + i + " of " + hash);
          payloads.add(HEX.parseHex(body));
          bodyCount++;
        }
        assertEquals(header.subRecordRoot(), Merkle.root(payloads), "sub-records of " + hash);
        records.put(hash, header);
        groupOf.put(hash, CrashChild.groupOf(payloads.get(0)));
        assertEquals(capsule.toHex(), dump.get(Layout.DB_RECORD_CAPSULE).get(hash.toHex()));
      }
      assertEquals(bodyCount, bodies.size(), "no body without its record");
      assertEquals(records.size(), dump.get(Layout.DB_RECORD_CAPSULE).size());
      Set<Hash> parents = new HashSet<>();
      Set<String> heights = new TreeSet<>();
      for (Map.Entry<Hash, RecordHeader> e : records.entrySet()) {
        for (Hash parent : e.getValue().parents()) {
          assertTrue(parent.equals(capsule) || records.containsKey(parent), "parent " + parent + " is held");
          parents.add(parent);
        }
        ByteBuffer key = ByteBuffer.allocate(72);
        key.put(capsule.toByteArray()).putLong(e.getValue().height()).put(e.getKey().toByteArray());
        heights.add(HEX.formatHex(key.array()));
      }
      assertEquals(heights, dump.get(Layout.DB_HEIGHTS).keySet(), "the height index");
      Set<String> heads = new TreeSet<>();
      for (Hash hash : records.keySet()) {
        if (!parents.contains(hash)) {
          heads.add(capsule.toHex() + hash.toHex());
        }
      }
      assertEquals(heads, dump.get(Layout.DB_HEADS).keySet(), "heads are the records without children");
      assertTrue(heads.size() <= 1, "the child appends in one chain");
      SetDigest digest = new SetDigest();
      records.keySet().forEach(digest::add);
      assertEquals(digest, storage.digest(capsule), "the digest moved with exactly the records committed");
      ExecutorStoreContract.assertConsistent(storage, capsule, records.keySet());

      // groups: complete with their credit, or absent with none
      Map<Long, Integer> sizes = new TreeMap<>();
      groupOf.values().forEach(g -> sizes.merge(g, 1, Integer::sum));
      long groups = sizes.size();
      LmdbLedger ledger = storage.ledger(Clock.systemUTC(), Amount.ofCap(1_000_000), Duration.ofHours(1));
      long batchCredits = 0;
      for (long g = 0; g < groups; g++) {
        assertEquals(CrashChild.groupSize(g), sizes.getOrDefault(g, 0), "group " + g + " is whole");
        if (CrashChild.throughExecutor(g)) {
          assertTrue(ledger.balance(CrashChild.groupAccount(g)).units() > 0, "group " + g + " got its refund");
        } else {
          batchCredits += CrashChild.batchCredit(g);
        }
      }
      for (long g = groups; g < groups + 2; g++) {
        assertEquals(Amount.ZERO, ledger.balance(CrashChild.groupAccount(g)), "no refund for absent group " + g);
      }
      assertEquals(batchCredits, ledger.balance(CrashChild.BATCH_ACCOUNT).units(), "batch credits match the groups");
      assertEquals(Amount.ZERO, ledger.balance(CrashChild.FAILURE_ACCOUNT), "no commit failed");
      Set<String> credited = new TreeSet<>();
      for (long g = 0; g < groups; g++) {
        credited.add((CrashChild.throughExecutor(g) ? CrashChild.groupAccount(g) : CrashChild.BATCH_ACCOUNT).toHex());
      }
      assertEquals(credited, dump.get(LmdbLedger.DB_ACCOUNTS).keySet(), "exactly the accounts credited");
      return groups;
    }
  }
}
