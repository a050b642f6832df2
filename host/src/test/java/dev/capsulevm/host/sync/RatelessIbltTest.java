package dev.capsulevm.host.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.bouncycastle.crypto.macs.SipHash;
import org.bouncycastle.crypto.params.KeyParameter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RatelessIbltTest {
  static SessionKey key(int seed) {
    byte[] k = new byte[16];
    new Random(seed).nextBytes(k);
    return new SessionKey(k);
  }

  @Test
  void theTabulatedStepEqualsTheReferenceArithmetic() {
    Random r = new Random(17);
    for (int i = 0; i < Riblt.TABLE_INDICES + 4; i++) {
      for (int n = 0; n < 200_000; n++) {
        long bits = r.nextLong();
        assertEquals(Riblt.referenceNextIndex(i, bits), Riblt.nextIndex(i, bits), "index " + i + ", bits " + bits);
      }
      // every boundary: the step is a step function of k = bits >>> 11; probe around each change
      long k = 0;
      long at = Riblt.referenceNextIndex(i, 0);
      for (long target = at - 1; target > i; target--) {
        long lo = 0;
        long hi = 1L << 53;
        while (lo < hi) {
          long mid = (lo + hi) >>> 1;
          if (Riblt.referenceNextIndex(i, mid << 11) <= target) {
            hi = mid;
          } else {
            lo = mid + 1;
          }
        }
        for (long d = -2; d <= 2; d++) {
          long kk = Math.min((1L << 53) - 1, Math.max(0, lo + d));
          for (long low : new long[] {0, 0x7ff, 0x123}) {
            long bits = (kk << 11) | low;
            assertEquals(Riblt.referenceNextIndex(i, bits), Riblt.nextIndex(i, bits), "index " + i + ", k " + kk);
          }
        }
        if (target < i + 2 * Riblt.TABLE_SPAN) {
          k++;
        }
        if (target < at - 64 && target > i + 2 * Riblt.TABLE_SPAN) {
          target = i + 2 * Riblt.TABLE_SPAN + 1; // the far tail is computed, not tabulated
        }
      }
      assertTrue(k > 0);
    }
  }

  @Test
  void indicesAreChosenWithProbabilityTwoOverIPlusTwo() {
    int elements = 200_000;
    int cells = 64;
    long[] hits = new long[cells];
    Random r = new Random(5);
    for (int e = 0; e < elements; e++) {
      long state = r.nextLong();
      long idx = 0;
      while (idx < cells) {
        hits[(int) idx]++;
        state += Riblt.GOLDEN;
        idx = Riblt.nextIndex(idx, Riblt.mix(state));
      }
    }
    for (int i = 0; i < cells; i++) {
      double p = 2.0 / (i + 2);
      double expected = elements * p;
      double sd = Math.sqrt(elements * p * (1 - p)) + 1;
      assertTrue(Math.abs(hits[i] - expected) < 6 * sd, "cell " + i + ": " + hits[i] + " vs " + expected);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 5, 30, 300, 3000})
  void decodesTheSymmetricDifference(int d) {
    List<SyncRecord> base = Dags.random(d, 20_000 + d, 4, 0.05);
    Random r = new Random(d);
    boolean[] inA = new boolean[base.size()];
    boolean[] inB = new boolean[base.size()];
    int flips = 0;
    for (int i = 0; i < base.size(); i++) {
      inA[i] = true;
      inB[i] = true;
    }
    while (flips < d) {
      int i = r.nextInt(base.size());
      if (inA[i] && inB[i]) {
        if (r.nextBoolean()) {
          inA[i] = false;
        } else {
          inB[i] = false;
        }
        flips++;
      }
    }
    InMemoryDag a = Dags.replica(base, i -> inA[i]);
    InMemoryDag b = Dags.replica(base, i -> inB[i]);
    SessionKey key = key(d);
    Riblt.Encoder sender = new Riblt.Encoder(key, b, 1 << 17);
    Riblt.Decoder decoder = new Riblt.Decoder(key, new Riblt.Encoder(key, a, 1 << 17), a);
    while (!decoder.add(sender.produce(8))) {
      assertTrue(decoder.symbols() < 10 * d + 100, "not decoded after " + decoder.symbols());
    }
    Set<Hash> bOnly = new HashSet<>(b.ids());
    bOnly.removeAll(a.ids());
    Set<Hash> aOnly = new HashSet<>(a.ids());
    aOnly.removeAll(b.ids());
    assertEquals(bOnly, new HashSet<>(decoder.decodedIds(1)));
    assertEquals(aOnly, new HashSet<>(decoder.decodedIds(-1)));
    assertEquals(b.digest(), decoder.senderDigest(a.digest()));
    assertEquals(bOnly, new HashSet<>(sender.idsWithChecksums(decoder.senderOnlyChecksums())));
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 7, 300, 3000})
  void theCompactFormDecodesKeyedHashes(int d) {
    List<SyncRecord> base = Dags.random(d, 10_000 + d, 4, 0.05);
    InMemoryDag a = Dags.replica(base, i -> i % 2 == 0 || i >= 2 * d);
    InMemoryDag b = Dags.replica(base, i -> i % 2 == 1 || i >= 2 * d);
    SessionKey key = key(d);
    Riblt.Encoder sender = new Riblt.Encoder(key, b, 1 << 17, true);
    Riblt.Decoder decoder = new Riblt.Decoder(key, new Riblt.Encoder(key, a, 1 << 17, true), a);
    while (!decoder.add(sender.produce(8))) {
      assertTrue(decoder.symbols() < 10 * d + 100, "not decoded after " + decoder.symbols());
    }
    Set<Hash> bOnly = new HashSet<>(b.ids());
    bOnly.removeAll(a.ids());
    Set<Hash> aOnly = new HashSet<>(a.ids());
    aOnly.removeAll(b.ids());
    assertEquals(aOnly, new HashSet<>(decoder.receiverOnlyIds()));
    assertEquals(bOnly, new HashSet<>(sender.idsWithChecksums(decoder.senderOnlyChecksums())));
  }

  @Test
  void aboutOnePointFourSymbolsPerDifferenceForLargeDifferences() {
    int d = 20_000;
    List<SyncRecord> base = Dags.random(99, 60_000, 4, 0.05);
    InMemoryDag a = Dags.replica(base, i -> i % 3 != 0 || i >= 3 * d / 2);
    InMemoryDag b = Dags.replica(base, i -> i % 3 == 0 || i >= 3 * d / 2);
    long diff = a.count() + b.count() - 2L * (base.size() - 3 * d / 2);
    SessionKey key = key(3);
    Riblt.Encoder sender = new Riblt.Encoder(key, b, 1 << 17);
    Riblt.Decoder decoder = new Riblt.Decoder(key, new Riblt.Encoder(key, a, 1 << 17), a);
    while (!decoder.add(sender.produce(256))) {
      // more
    }
    double ratio = (double) decoder.symbols() / diff;
    assertTrue(ratio > 1.2 && ratio < 1.55, "symbols per difference " + ratio);
    double estimate = decoder.estimateDifference();
    assertEquals(diff, estimate, 1.0);
  }

  @Test
  void keyedHashesDifferPerSessionKey() {
    Hash id = Dags.id("x", 1, 1);
    SessionKey k1 = key(1);
    SessionKey k2 = key(2);
    assertNotEquals(k1.hash(id), k2.hash(id));
    byte[] n1 = new byte[16];
    byte[] n2 = new byte[16];
    n2[0] = 1;
    SessionKey s1 = SessionKey.derive(Dags.ROOT, n1, n2, SessionKey.PURPOSE_RIBLT, 0);
    SessionKey s2 = SessionKey.derive(Dags.ROOT, n2, n1, SessionKey.PURPOSE_RIBLT, 0);
    SessionKey s3 = SessionKey.derive(Dags.ROOT, n1, n2, SessionKey.PURPOSE_BLOOM, 0);
    SessionKey s4 = SessionKey.derive(Dags.ROOT, n1, n2, SessionKey.PURPOSE_BLOOM, 1);
    Set<Long> values = new HashSet<>(List.of(s1.hash(id), s2.hash(id), s3.hash(id), s4.hash(id)));
    assertEquals(4, values.size());
    // the same ids land in different coded symbols under different keys
    InMemoryDag dag = Dags.replica(Dags.random(1, 500, 4, 0.05));
    Riblt.Symbols x = new Riblt.Encoder(k1, dag, 64).produce(64);
    Riblt.Symbols y = new Riblt.Encoder(k2, dag, 64).produce(64);
    assertEquals(x.counts[0], y.counts[0]);
    assertNotEquals(java.util.Arrays.toString(x.counts), java.util.Arrays.toString(y.counts));
    // SipHash-2-4 as Bouncy Castle computes it over the 32 id bytes
    SipHash mac = new SipHash(2, 4);
    byte[] raw = new byte[16];
    new Random(1).nextBytes(raw);
    mac.init(new KeyParameter(raw));
    mac.update(id.toByteArray(), 0, 32);
    assertEquals(mac.doFinal(), k1.hash(id));
    Random r = new Random(3);
    for (int i = 0; i < 2_000; i++) {
      SessionKey k = key(r.nextInt());
      Hash z = Dags.id("y", i, i);
      assertEquals(k.referenceHash(z), k.hash(z));
    }
  }

  @Test
  void runsOfAnySizeGiveTheSameSymbols() {
    InMemoryDag dag = Dags.replica(Dags.random(2, 3_000, 4, 0.05));
    SessionKey k = key(9);
    Riblt.Symbols whole = new Riblt.Encoder(k, dag, 300).produce(300);
    Riblt.Encoder parts = new Riblt.Encoder(k, dag, 300);
    int at = 0;
    Random r = new Random(1);
    while (at < 300) {
      int size = Math.min(300 - at, 1 + r.nextInt(40));
      Riblt.Symbols s = parts.produce(size);
      for (int i = 0; i < size; i++) {
        assertEquals(whole.counts[at + i], s.counts[i]);
        assertEquals(whole.checksums[at + i], s.checksums[i]);
        assertEquals(whole.sums[4 * (at + i) + 2], s.sums[4 * i + 2]);
      }
      at += size;
    }
    // symbol 0 holds every record
    assertEquals(3_000, whole.counts[0]);
  }

  @Test
  void setDigestIsASumNotAnXor() {
    Hash a = Dags.id("a", 0, 0);
    SetDigest twice = new SetDigest();
    twice.add(a);
    twice.add(a);
    SetDigest none = new SetDigest();
    none.add(a);
    none.remove(a);
    assertEquals(new SetDigest(), none);
    assertNotEquals(new SetDigest().fingerprint(), twice.fingerprint());
    // carries: (2^256 - 1) + 1 = 0 mod 2^256
    SetDigest wrap = new SetDigest();
    wrap.add(Hash.fromHex("ff".repeat(32)));
    wrap.add(Hash.fromHex("00".repeat(31) + "01"));
    assertEquals("00".repeat(32), java.util.HexFormat.of().formatHex(wrap.sumBytes()));
    assertEquals(2, wrap.count());
  }
}
