package dev.capsulevm.host.sync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.Hash;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SyncCodecTest {
  static final SyncLimits LIMITS = SyncLimits.DEFAULT;

  static List<SyncMessage> everyMessage() {
    Hash a = Dags.id("a", 0, 0);
    Hash b = Dags.id("b", 0, 0);
    List<Hash> sorted = a.compareTo(b) < 0 ? List.of(a, b) : List.of(b, a);
    SyncMessage.Summary summary = new SyncMessage.Summary(5, a, sorted);
    return List.of(
        new SyncMessage.Hello(b, new byte[16], SyncMessage.MODE_BLOOM, summary),
        new SyncMessage.SummaryReply(new byte[16], new SyncMessage.Summary(0, b, List.of())),
        new SyncMessage.Symbols(7, 4, new long[] {1, 2, 3, 4, -1, -2, -3, -4}, new long[] {9, -9},
            new long[] {-3, Long.MIN_VALUE}),
        new SyncMessage.Symbols(9, 1, new long[] {5, -5}, new long[] {0xffffffffL, 0}, new long[] {0, 1}),
        new SyncMessage.Bloom(2, 7, 20, new byte[] {1, 2, 3}),
        new SyncMessage.Records(List.of(new SyncRecord(a, List.of(b)), new SyncRecord(b, sorted))),
        new SyncMessage.WantIds(sorted),
        new SyncMessage.WantChecksums(new long[] {1, 5, -1}),
        new SyncMessage.Heads(sorted),
        new SyncMessage.Done(3, a));
  }

  @Test
  void everyMessageRoundTrips() {
    List<SyncMessage> all = everyMessage();
    byte[] bytes = SyncCodec.encodeTurn(all);
    List<SyncMessage> back = SyncCodec.decodeTurn(bytes, LIMITS);
    assertEquals(all.size(), back.size());
    for (int i = 0; i < all.size(); i++) {
      assertArrayEquals(SyncCodec.encode(all.get(i)), SyncCodec.encode(back.get(i)));
    }
  }

  @Test
  void fixedLayouts() {
    // a Done: type 8, u64 count 3, 32-byte fingerprint
    Hash fp = Hash.fromHex("00".repeat(31) + "01");
    assertEquals("08" + "0000000000000003" + "00".repeat(31) + "01",
        HexFormat.of().formatHex(SyncCodec.encode(new SyncMessage.Done(3, fp))));
    // symbol count deltas are zigzag varints: -1 -> 01, 64 -> 8001
    byte[] sym = SyncCodec.encode(new SyncMessage.Symbols(0, 4, new long[8], new long[2], new long[] {-1, 64}));
    assertEquals(1 + 8 + 4 + 41 + 42, sym.length);
    assertEquals("01", HexFormat.of().formatHex(sym, 13 + 40, 13 + 41));
    assertEquals("8001", HexFormat.of().formatHex(sym, 13 + 41 + 40, 13 + 41 + 42));
  }

  @Test
  void randomGarbageIsRefusedWithTheProtocolException() {
    Random r = new Random(1);
    for (int i = 0; i < 20_000; i++) {
      byte[] junk = new byte[r.nextInt(200)];
      r.nextBytes(junk);
      if (junk.length > 0 && r.nextBoolean()) {
        junk[0] = (byte) r.nextInt(3);
      }
      try {
        SyncCodec.decodeTurn(junk, LIMITS);
      } catch (SyncProtocolException expected) {
        // fine
      }
    }
  }

  @Test
  void mutatedValidTurnsNeverThrowAnythingElse() {
    byte[] valid = SyncCodec.encodeTurn(everyMessage());
    Random r = new Random(2);
    for (int i = 0; i < 20_000; i++) {
      byte[] b = valid.clone();
      for (int k = 0; k < 1 + r.nextInt(4); k++) {
        b[r.nextInt(b.length)] = (byte) r.nextInt(256);
      }
      try {
        SyncCodec.decodeTurn(b, LIMITS);
      } catch (SyncProtocolException expected) {
        // fine
      }
      byte[] cut = java.util.Arrays.copyOf(valid, r.nextInt(valid.length));
      try {
        SyncCodec.decodeTurn(cut, LIMITS);
      } catch (SyncProtocolException expected) {
        // fine
      }
    }
  }

  @Test
  void hugeCountsInShortMessagesAreRefusedBeforeAllocating() {
    // 1 message, 13 bytes: SYMBOLS, first 0, count 2^20 (the limit), no symbols
    byte[] symbols = HexFormat.of().parseHex("01" + "0000000d" + "03" + "0000000000000000" + "00100000");
    assertThrows(SyncProtocolException.class, () -> SyncCodec.decodeTurn(symbols, LIMITS));
    byte[] records = HexFormat.of().parseHex("01" + "00000005" + "05" + "000fffff");
    assertThrows(SyncProtocolException.class, () -> SyncCodec.decodeTurn(records, LIMITS));
    byte[] tooMany = HexFormat.of().parseHex("01" + "00000005" + "05" + "7fffffff");
    assertThrows(SyncProtocolException.class, () -> SyncCodec.decodeTurn(tooMany, LIMITS));
    byte[] bloom = HexFormat.of().parseHex("01" + "0000000a" + "04" + "00000000" + "07" + "7fffffff");
    assertThrows(SyncProtocolException.class, () -> SyncCodec.decodeTurn(bloom, LIMITS));
    byte[] lying = HexFormat.of().parseHex("01" + "7fffffff" + "08");
    assertThrows(SyncProtocolException.class, () -> SyncCodec.decodeTurn(lying, LIMITS));
    byte[] oversized = new byte[LIMITS.maxTurnBytes() + 1];
    assertThrows(SyncProtocolException.class, () -> SyncCodec.decodeTurn(oversized, LIMITS));
  }

  @Test
  void nonCanonicalFormsAreRefused() {
    byte[] done = SyncCodec.encodeTurn(List.of(new SyncMessage.Done(1, Dags.ROOT)));
    byte[] trailing = java.util.Arrays.copyOf(done, done.length + 1);
    assertThrows(SyncProtocolException.class, () -> SyncCodec.decodeTurn(trailing, LIMITS));
    // a varint 0 written as 80 00
    byte[] sym = SyncCodec.encodeTurn(List.of(new SyncMessage.Symbols(0, 4, new long[4], new long[1], new long[1])));
    byte[] overlong = new byte[sym.length + 1];
    System.arraycopy(sym, 0, overlong, 0, sym.length - 1);
    overlong[4] += 1; // message length
    overlong[sym.length - 1] = (byte) 0x80;
    overlong[sym.length] = 0;
    assertThrows(SyncProtocolException.class, () -> SyncCodec.decodeTurn(overlong, LIMITS));
    Hash a = Dags.id("a", 0, 0);
    Hash b = Dags.id("b", 0, 0);
    List<Hash> unsorted = new ArrayList<>(a.compareTo(b) < 0 ? List.of(b, a) : List.of(a, b));
    byte[] wants = SyncCodec.encodeTurn(List.of(new SyncMessage.WantIds(unsorted)));
    assertThrows(SyncProtocolException.class, () -> SyncCodec.decodeTurn(wants, LIMITS));
    byte[] dup = SyncCodec.encodeTurn(List.of(new SyncMessage.WantChecksums(new long[] {4, 4})));
    assertThrows(SyncProtocolException.class, () -> SyncCodec.decodeTurn(dup, LIMITS));
    byte[] version = SyncCodec.encodeTurn(List.of(everyMessage().get(0)));
    version[6] = 2;
    assertThrows(SyncProtocolException.class, () -> SyncCodec.decodeTurn(version, LIMITS));
  }

  @Test
  void hostilePeersAreRefusedByTheReconciler() {
    InMemoryDag b = Dags.replica(Dags.random(1, 2_000, 4, 0.05));
    Reconciler responder = new Reconciler(b, Reconciler.Role.RESPONDER, Reconciler.Config.DEFAULT, new Random(1));
    // records before any hello
    assertThrows(SyncProtocolException.class, () -> responder.receive(
        List.of(new SyncMessage.Records(List.of(new SyncRecord(Dags.id("x", 0, 0), List.of(Dags.ROOT)))))));
    Reconciler other = new Reconciler(b, Reconciler.Role.RESPONDER, Reconciler.Config.DEFAULT, new Random(1));
    SyncMessage.Summary s = new SyncMessage.Summary(1, Dags.ROOT, List.of());
    assertThrows(SyncProtocolException.class, () -> other.receive(
        List.of(new SyncMessage.Hello(Dags.id("other capsule", 0, 0), new byte[16], 0, s))));
    // an initiator fed symbols far beyond the budget
    InMemoryDag a = Dags.replica(Dags.random(1, 1_000, 4, 0.05));
    Reconciler initiator = new Reconciler(a, Reconciler.Role.INITIATOR, Reconciler.Config.DEFAULT, new Random(1));
    initiator.start();
    int n = 100_000;
    assertThrows(SyncProtocolException.class, () -> initiator.receive(List.of(
        new SyncMessage.SummaryReply(new byte[16], new SyncMessage.Summary(1_000, Dags.ROOT, List.of())),
        new SyncMessage.Symbols(0, 4, new long[4 * n], new long[n], new long[n]))));
  }
}
