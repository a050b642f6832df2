package dev.capsulevm.host.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.ChildJvm;
import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.vm.exec.ExecFixture;
import dev.capsulevm.vm.exec.ExecutorStoreContract;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
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
 * Crash safety: {@link CrashChild} commits groups of records in a loop while reader threads run programs,
 * every program paid as a host pays (budget held in memory, cost settled once at its end, group-committed),
 * and is killed with SIGKILL ({@link Process#destroyForcibly()} on Linux) at seeded random points of its
 * own progress: just as it starts committing a group, or just after it acknowledged one. After each kill the
 * store is reopened and checked whole: every group the child acknowledged is there, every record verifies
 * (header hash = key, signature, sub-record root, parents held in its capsule), every index agrees with
 * the records, every head is a stored record without children, and every group is there completely with
 * its settlement or not at all. And the ledger: every settlement the child acknowledged (a receipt a host
 * would have sent) is there with its cost; every settlement there is a program the child held a budget
 * for; every account's balance is its funding less exactly those settlements' costs, so no program in
 * flight at the kill took anything. Programs paid from payment sessions settle into their session's one
 * row: each row names a program held in that session, and holds at least the programs and costs the child
 * acknowledged, and at most the one more program its single session reader may have settled unacknowledged.
 * The kill points come from what the child reports, never from a length
 * of time, so a slow machine changes where inside its work the child dies, not what the test proves.
 */
class CrashSafetyTest {
  private static final int KILLS = Integer.getInteger("capsulevm.crash.kills", 22);
  private static final HexFormat HEX = HexFormat.of();

  @TempDir Path dir;

  /** A program the child held a budget for: its account and program id. */
  private record Held(int account, Hash program) {}

  /** The programs of one payment session acknowledged, and their costs summed. */
  private record Acknowledged(int programs, long cost) {
    Acknowledged plus(long more) {
      return new Acknowledged(programs + 1, cost + more);
    }
  }

  /** What the child reported over every run: budgets held by nonce, settlements acknowledged by nonce. */
  private final Map<Long, Held> held = new HashMap<>();
  private final Map<Long, Long> acknowledged = new HashMap<>();
  /** Payment sessions by nonce: the programs held in each, and what was acknowledged of them. */
  private final Map<Long, Set<Hash>> sessionPrograms = new HashMap<>();
  private final Map<Long, Acknowledged> sessionAcknowledged = new HashMap<>();
  /** Across the kills: programs in flight (held, never settled: nothing taken), settled but not acknowledged. */
  private long inFlightAtKills;
  private long unitsHeldAtKills;
  private long settledUnacknowledged;
  /** Kills that left settlements in the journal for the reopen to apply (or skip, if applied). */
  private int killsWithAJournal;

  @Test
  void aStoreKilledAtRandomMomentsReopensWithNothingHalfAppliedAndTheLedgerExact() throws Exception {
    Path store = dir.resolve("store");
    SplittableRandom random = new SplittableRandom(20261124L);
    long groups = 0;
    for (int round = 0; round < KILLS; round++) {
      // This run starts at group `groups` and dies a few groups later: as a group's commit starts (the
      // kill races the commit's writes) or once a group is acknowledged (the next one is being built).
      long target = groups + random.nextInt(20);
      String killAt = (random.nextBoolean() ? CrashChild.COMMITTING : CrashChild.COMMITTED) + target;
      long acknowledgedGroup = groups - 1;
      Map<Long, Held> heldThisRun = new HashMap<>();
      try (ChildJvm child = ChildJvm.start(dir.resolve("child.log"), 128, CrashChild.class, store.toString())) {
        for (String line = child.nextLine(); !line.equals(killAt); line = child.nextLine()) {
          if (line.startsWith(CrashChild.COMMITTED)) {
            acknowledgedGroup = Long.parseLong(line.substring(CrashChild.COMMITTED.length()));
          }
          record(line, heldThisRun);
        }
        assertEquals(137, child.kill(), "killed by SIGKILL");
        // What it wrote before it died: the budgets it held, the settlements it acknowledged.
        for (String line : child.rest()) {
          record(line, heldThisRun);
        }
      }
      if (killAt.startsWith(CrashChild.COMMITTED)) {
        acknowledgedGroup = target;
      }
      Path journal = store.resolve(SettlementJournal.FILE_NAME);
      if (Files.exists(journal) && Files.size(journal) > 0) {
        killsWithAJournal++;
      }
      groups = verify(store, heldThisRun);
      assertTrue(groups > acknowledgedGroup, "nothing acknowledged is lost: group " + acknowledgedGroup + " of " + groups);
    }
    System.out.println("crash safety: " + KILLS + " kills, " + groups + " groups committed; " + acknowledged.size()
        + " programs acknowledged, every one in the ledger with its cost; " + settledUnacknowledged
        + " settled but killed before acknowledging (in the ledger, each a program the child held); "
        + inFlightAtKills + " in flight at a kill, holding " + unitsHeldAtKills
        + " units, of which the ledger took nothing; " + sessionPrograms.size() + " payment sessions, "
        + sessionAcknowledged.values().stream().mapToInt(Acknowledged::programs).sum()
        + " of their programs acknowledged, every one in its session's row; " + killsWithAJournal
        + " kills left a settlement journal for the reopen");
  }

  /** Keeps a line of the child's: a budget held, a settlement acknowledged (a line cut by the kill is not one). */
  private void record(String line, Map<Long, Held> heldThisRun) {
    String[] f = line.split(" ");
    if (line.startsWith(CrashChild.HELD) && f.length == 4 && f[3].length() == 2 * Hash.LENGTH) {
      Held h = new Held(Integer.parseInt(f[1]), Hash.copyOf(HEX.parseHex(f[3])));
      held.put(Long.parseLong(f[2]), h);
      heldThisRun.put(Long.parseLong(f[2]), h);
    } else if (line.startsWith(CrashChild.SETTLED) && f.length == 4 && line.endsWith(f[3])) {
      acknowledged.put(Long.parseLong(f[2]), Long.parseLong(f[3]));
    } else if (line.startsWith(CrashChild.SESSION) && f.length == 3) {
      sessionPrograms.putIfAbsent(Long.parseLong(f[2]), new HashSet<>());
    } else if (line.startsWith(CrashChild.SESSION_HELD) && f.length == 4 && f[3].length() == 2 * Hash.LENGTH) {
      sessionPrograms.computeIfAbsent(Long.parseLong(f[2]), n -> new HashSet<>()).add(Hash.copyOf(HEX.parseHex(f[3])));
    } else if (line.startsWith(CrashChild.SESSION_SETTLED) && f.length == 4 && line.endsWith(f[3])) {
      sessionAcknowledged.merge(Long.parseLong(f[2]), new Acknowledged(1, Long.parseLong(f[3])),
          (a, b) -> a.plus(b.cost()));
    }
  }

  /** Checks the whole store; returns how many groups it holds. */
  private long verify(Path path, Map<Long, Held> heldThisRun) throws Exception {
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

      // groups: complete with their settlement, or absent with none
      Map<Long, Integer> sizes = new TreeMap<>();
      groupOf.values().forEach(g -> sizes.merge(g, 1, Integer::sum));
      long groups = sizes.size();
      LmdbLedger ledger = storage.ledger(Clock.systemUTC(), CrashChild.MAX_BALANCE);
      Map<Hash, Settlement> byProgram = new HashMap<>();
      for (Settlement s : ledger.settlements(CrashChild.account(0))) {
        assertNull(byProgram.put(s.programId(), s), "one settlement per group: " + s);
      }
      for (long g = 0; g < groups; g++) {
        assertEquals(CrashChild.groupSize(g), sizes.getOrDefault(g, 0), "group " + g + " is whole");
        Settlement paid = byProgram.get(CrashChild.groupProgram(g));
        assertNotNull(paid, "group " + g + " is settled with its records");
        if (!CrashChild.throughExecutor(g)) {
          assertEquals(CrashChild.batchCost(g), paid.cost().units(), "group " + g + "'s charge");
        }
      }
      for (long g = groups; g < groups + 2; g++) {
        assertNull(byProgram.get(CrashChild.groupProgram(g)), "no settlement for absent group " + g);
      }

      // the ledger: exact for every account
      Set<String> funded = new TreeSet<>();
      Set<Long> settledNonces = new HashSet<>();
      for (int a = 0; a <= CrashChild.SESSION_READER; a++) {
        PublicKey account = CrashChild.account(a);
        long charged = 0;
        for (Settlement s : ledger.settlements(account)) {
          if (s.kind() == Settlement.Kind.SESSION) {
            assertEquals(CrashChild.SESSION_READER, a, "only the session reader pays from sessions: " + s);
            Set<Hash> programs = sessionPrograms.get(s.nonce());
            assertNotNull(programs, "session row " + s + " is a session the child opened");
            assertTrue(programs.contains(s.programId()), "session row " + s + " names a program held in it");
            charged += s.cost().units();
            continue;
          }
          Held h = held.get(s.nonce());
          assertNotNull(h, "settlement " + s + " is a program the child held a budget for");
          assertEquals(new Held(a, s.programId()), h, "settlement " + s + " names the program held");
          charged += s.cost().units();
          settledNonces.add(s.nonce());
        }
        long balance = ledger.balance(account).units();
        if (balance + charged != 0) {
          funded.add(account.toHex());
          assertEquals(CrashChild.FUND, balance + charged,
              "account " + a + ": balance = funded - the costs settled, so no program in flight took anything");
        }
      }
      assertEquals(funded, dump.get(LmdbLedger.DB_ACCOUNTS).keySet(), "exactly the accounts funded");
      for (Map.Entry<Long, Long> ack : acknowledged.entrySet()) {
        Held h = held.get(ack.getKey());
        assertNotNull(h, "an acknowledged program was held");
        Settlement s = ledger.settlements(CrashChild.account(h.account())).stream()
            .filter(x -> x.nonce() == ack.getKey()).findFirst().orElse(null);
        assertNotNull(s, "acknowledged settlement of nonce " + ack.getKey() + " is in the ledger");
        assertEquals(ack.getValue().longValue(), s.cost().units(), "with the cost acknowledged");
      }
      PublicKey sessionAccount = CrashChild.account(CrashChild.SESSION_READER);
      for (Map.Entry<Long, Acknowledged> ack : sessionAcknowledged.entrySet()) {
        Settlement row = ledger.settlements(sessionAccount).stream()
            .filter(x -> x.nonce() == ack.getKey()).findFirst().orElse(null);
        assertNotNull(row, "acknowledged programs of session " + ack.getKey() + " are in the ledger");
        Acknowledged seen = ack.getValue();
        // One reader per session: at most one program settled after the last acknowledged one.
        if (row.programs() == seen.programs()) {
          assertEquals(seen.cost(), row.cost().units(), "session " + ack.getKey() + " costs what was acknowledged");
        } else {
          assertEquals(seen.programs() + 1, row.programs(), "session " + ack.getKey() + ": " + row);
          assertTrue(row.cost().units() >= seen.cost() && row.cost().units() - seen.cost() <= ExecFixture.BUDGET,
              "session " + ack.getKey() + ": one program more than acknowledged, within its budget: " + row);
        }
      }
      for (Map.Entry<Long, Held> h : heldThisRun.entrySet()) {
        if (!settledNonces.contains(h.getKey())) {
          inFlightAtKills++;
          unitsHeldAtKills += ExecFixture.BUDGET;
        } else if (!acknowledged.containsKey(h.getKey())) {
          settledUnacknowledged++;
        }
      }
      return groups;
    }
  }
}
