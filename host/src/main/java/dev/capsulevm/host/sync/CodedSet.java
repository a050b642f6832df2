package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A set of record ids with its first coded symbols kept up to date: the compact rateless IBLT's symbols
 * 0 to {@code prefix - 1} under one standing key ({@link SessionKey#forPair}), which a session copies
 * instead of encoding the whole set. Coded symbols are linear in the set, so adding an id updates only
 * the symbols its index sequence visits below the prefix (about {@code 2 ln prefix}, 19 at 16,384).
 *
 * <p>It also keeps what a session asks of its own records by keyed hash: the ids in the order added,
 * their keyed hashes, and an open-addressing table from keyed hash to element. The key is secret to the
 * two hosts that share it, so no writer can choose ids whose hashes crowd one probe sequence.
 *
 * <p>For a session that needs symbols past the prefix it also keeps, per id, where its index sequence
 * goes on from there (the generator state and the first index at or past the prefix), so encoding past
 * the prefix starts at the prefix instead of stepping every id through it.
 *
 * <p>Memory: {@link #bytes()}, about 16 bytes per prefix symbol plus 60 bytes per id (32 for the id, 8
 * for its hash, 12 for where its sequence goes on, 8 for the table at a load of at most one half). Adding is idempotent: an id already held
 * is ignored, so a store's commit listener and a scan of the store may both report it. Thread-safe;
 * {@link #snapshot()} gives a session a fixed view while ids keep arriving.
 */
public final class CodedSet {
  /** The default prefix: symbols enough for about 11,000 differences (1.45 symbols each). */
  public static final int DEFAULT_PREFIX = 16_384;

  private final SessionKey key;
  private final int prefix;
  // the prefix symbols: XOR of the hashes, XOR of their 32-bit checks, counts
  private final long[] sums;
  private final int[] checks;
  private final int[] counts;
  // the elements, in the order added
  private long[] limbs;
  private long[] hashes;
  /** Each id's generator state and next index (at or past the prefix; capped at Integer.MAX_VALUE). */
  private long[] states;
  private int[] next;
  private int n;
  /** Element + 1 by keyed hash (open addressing, linear probing); 0 is empty. */
  private int[] table;
  private final SetDigest digest = new SetDigest();

  /** An empty set whose symbols below {@code prefix} are kept under {@code key}. */
  public CodedSet(SessionKey key, int prefix) {
    this.key = Objects.requireNonNull(key, "key");
    if (prefix < 1) {
      throw new IllegalArgumentException("prefix " + prefix);
    }
    this.prefix = prefix;
    sums = new long[prefix];
    checks = new int[prefix];
    counts = new int[prefix];
    limbs = new long[64];
    hashes = new long[16];
    states = new long[16];
    next = new int[16];
    table = new int[32];
  }

  /** The set of {@code dag}'s records, under {@code key}. */
  public static CodedSet of(SyncDag dag, SessionKey key, int prefix) {
    CodedSet set = new CodedSet(key, prefix);
    set.addAll(dag::forEachIdLimbs);
    return set;
  }

  /** Something that lists ids as limbs, such as {@link SyncDag#forEachIdLimbs}. */
  @FunctionalInterface
  public interface IdSource {
    void forEach(SyncDag.LimbConsumer action);
  }

  /** Adds every id {@code source} lists, under one lock. */
  public synchronized void addAll(IdSource source) {
    source.forEach(this::addLocked);
  }

  public SessionKey key() {
    return key;
  }

  public int prefix() {
    return prefix;
  }

  public synchronized long count() {
    return n;
  }

  /** Adds {@code id}; false when it was held already. */
  public boolean add(Hash id) {
    return add(Riblt.limb(id, 0), Riblt.limb(id, 1), Riblt.limb(id, 2), Riblt.limb(id, 3));
  }

  /** Adds the id given as four big-endian limbs; false when it was held already. */
  public synchronized boolean add(long l0, long l1, long l2, long l3) {
    return addLocked(l0, l1, l2, l3);
  }

  private boolean addLocked(long l0, long l1, long l2, long l3) {
    long h = key.hash(l0, l1, l2, l3);
    if (find(h, l0, l1, l2, l3) >= 0) {
      return false;
    }
    if (n == Integer.MAX_VALUE / 4) {
      throw new IllegalStateException("a coded set holds at most " + n + " ids");
    }
    if (hashes.length == n) {
      hashes = Arrays.copyOf(hashes, 2 * n);
      limbs = Arrays.copyOf(limbs, 8 * n);
      states = Arrays.copyOf(states, 2 * n);
      next = Arrays.copyOf(next, 2 * n);
    }
    int e = n++;
    limbs[4 * e] = l0;
    limbs[4 * e + 1] = l1;
    limbs[4 * e + 2] = l2;
    limbs[4 * e + 3] = l3;
    hashes[e] = h;
    if (2 * n > table.length) {
      rehash(2 * table.length);
    } else {
      place(table, e, h);
    }
    digest.addLimbs(limbs, 4 * e, 1);
    int check = (int) Riblt.compactCheck(h);
    long state = h;
    long idx = 0;
    while (idx < prefix) {
      int c = (int) idx;
      sums[c] ^= h;
      checks[c] ^= check;
      counts[c]++;
      state += Riblt.GOLDEN;
      idx = Riblt.nextIndex(idx, Riblt.mix(state));
    }
    states[e] = state;
    next[e] = (int) Math.min(idx, Integer.MAX_VALUE);
    return true;
  }

  private void rehash(int capacity) {
    int[] t = new int[capacity];
    for (int e = 0; e < n; e++) {
      place(t, e, hashes[e]);
    }
    table = t;
  }

  private static void place(int[] t, int e, long h) {
    int mask = t.length - 1;
    int slot = slot(h, mask);
    while (t[slot] != 0) {
      slot = (slot + 1) & mask;
    }
    t[slot] = e + 1;
  }

  private static int slot(long h, int mask) {
    return (int) (h ^ (h >>> 32)) & mask;
  }

  /** The element holding this id (whose keyed hash is {@code h}), or -1. */
  private int find(long h, long l0, long l1, long l2, long l3) {
    int mask = table.length - 1;
    for (int slot = slot(h, mask); table[slot] != 0; slot = (slot + 1) & mask) {
      int e = table[slot] - 1;
      if (hashes[e] == h && limbs[4 * e] == l0 && limbs[4 * e + 1] == l1 && limbs[4 * e + 2] == l2
          && limbs[4 * e + 3] == l3) {
        return e;
      }
    }
    return -1;
  }

  /** The bytes this set holds: its arrays, by their capacity. */
  public synchronized long bytes() {
    return 16L * prefix + 52L * hashes.length + 4L * table.length;
  }

  /** An independent copy. */
  public synchronized CodedSet copy() {
    CodedSet c = new CodedSet(key, prefix);
    System.arraycopy(sums, 0, c.sums, 0, prefix);
    System.arraycopy(checks, 0, c.checks, 0, prefix);
    System.arraycopy(counts, 0, c.counts, 0, prefix);
    c.limbs = limbs.clone();
    c.hashes = hashes.clone();
    c.states = states.clone();
    c.next = next.clone();
    c.table = table.clone();
    c.n = n;
    c.digest.addAll(digest);
    return c;
  }

  /**
   * The set as it is now, for one session: its digest and count, a copy of the prefix symbols, and
   * lookups of the elements held now (ids added later are not seen). Copies 16 bytes per prefix symbol.
   */
  public synchronized Snapshot snapshot() {
    return new Snapshot(n, digest.copy(), sums.clone(), checks.clone(), counts.clone(), hashes, states, next);
  }

  /** A fixed view of the set for one session. */
  public final class Snapshot {
    private final int size;
    private final SetDigest digestThen;
    private final long[] prefixSums;
    private final int[] prefixChecks;
    private final int[] prefixCounts;
    /** The per-id arrays when the snapshot was taken: entries below {@code size} never change. */
    private final long[] hashesThen;
    private final long[] statesThen;
    private final int[] nextThen;

    private Snapshot(int size, SetDigest digestThen, long[] prefixSums, int[] prefixChecks, int[] prefixCounts,
        long[] hashesThen, long[] statesThen, int[] nextThen) {
      this.size = size;
      this.digestThen = digestThen;
      this.prefixSums = prefixSums;
      this.prefixChecks = prefixChecks;
      this.prefixCounts = prefixCounts;
      this.hashesThen = hashesThen;
      this.statesThen = statesThen;
      this.nextThen = nextThen;
    }

    public SessionKey key() {
      return key;
    }

    /** How many ids the set held. */
    public int size() {
      return size;
    }

    /** The set's digest when the snapshot was taken. */
    public SetDigest digest() {
      return digestThen.copy();
    }

    /** How many leading symbols the snapshot holds. */
    public int prefix() {
      return prefix;
    }

    /** Copies symbols {@code from} to {@code from + length - 1} (all below the prefix) into {@code out} at {@code at}. */
    void copySymbols(int from, int length, Riblt.Symbols out, int at) {
      for (int i = 0; i < length; i++) {
        out.sums[at + i] = prefixSums[from + i];
        out.checksums[at + i] = prefixChecks[from + i] & 0xffffffffL;
        out.counts[at + i] = prefixCounts[from + i];
      }
    }

    /** The keyed hashes of the ids held (entries below {@link #size()}); not to be written. */
    long[] hashes() {
      return hashesThen;
    }

    /** Each id's generator state at its first index at or past the prefix (below {@link #size()}); read only. */
    long[] states() {
      return statesThen;
    }

    /** Each id's first index at or past the prefix, capped at Integer.MAX_VALUE (below {@link #size()}); read only. */
    int[] next() {
      return nextThen;
    }

    /** Whether the set held an id with keyed hash {@code h}. */
    public boolean hasHash(long h) {
      synchronized (CodedSet.this) {
        int mask = table.length - 1;
        for (int slot = slot(h, mask); table[slot] != 0; slot = (slot + 1) & mask) {
          int e = table[slot] - 1;
          if (e < size && hashes[e] == h) {
            return true;
          }
        }
        return false;
      }
    }

    /** The ids the set held whose keyed hash is among {@code sorted}, in the order they were added. */
    public List<Hash> idsWithHashes(long[] sorted) {
      int[] found = new int[Math.max(4, sorted.length)];
      int f = 0;
      synchronized (CodedSet.this) {
        int mask = table.length - 1;
        for (long h : sorted) {
          for (int slot = slot(h, mask); table[slot] != 0; slot = (slot + 1) & mask) {
            int e = table[slot] - 1;
            if (e < size && hashes[e] == h) {
              if (f == found.length) {
                found = Arrays.copyOf(found, 2 * f);
              }
              found[f++] = e;
            }
          }
        }
        Arrays.sort(found, 0, f);
        List<Hash> out = new ArrayList<>(f);
        for (int i = 0; i < f; i++) {
          if (i == 0 || found[i] != found[i - 1]) {
            out.add(Riblt.toHash(limbs, 4 * found[i]));
          }
        }
        return out;
      }
    }
  }
}
