package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The bytes of reconciliation messages (docs/PROTOCOL.md, "Reconciliation"). Integers are big-endian;
 * a turn is {@code u8 n || n × (u32 length || message)}; a message starts with its type byte. The
 * decoder is strict: unknown types and versions, short input, trailing bytes, counts over the limits,
 * unsorted or repeated lists and non-minimal varints are refused with a {@link SyncProtocolException},
 * and every count is checked against the bytes left before anything is allocated.
 */
public final class SyncCodec {
  public static final int VERSION = 1;
  public static final int NONCE_BYTES = 16;
  static final int HELLO = 1;
  static final int SUMMARY = 2;
  static final int SYMBOLS = 3;
  static final int BLOOM = 4;
  static final int RECORDS = 5;
  static final int WANT_IDS = 6;
  static final int WANT_CHECKSUMS = 7;
  static final int DONE = 8;
  static final int HEADS = 9;
  static final int COMPACT_SYMBOLS = 10;

  private SyncCodec() {}

  // ---------------------------------------------------------------- encoding

  public static byte[] encodeTurn(List<SyncMessage> turn) {
    if (turn.size() > 255) {
      throw new IllegalArgumentException("too many messages in one turn");
    }
    Out out = new Out();
    out.u8(turn.size());
    for (SyncMessage m : turn) {
      byte[] b = encode(m);
      out.u32(b.length);
      out.bytes(b);
    }
    return out.toByteArray();
  }

  public static byte[] encode(SyncMessage message) {
    Out out = new Out();
    if (message instanceof SyncMessage.Hello h) {
      out.u8(HELLO);
      out.u8(VERSION);
      out.hash(h.capsule());
      out.nonce(h.nonce());
      out.u8(h.mode());
      summary(out, h.summary());
    } else if (message instanceof SyncMessage.SummaryReply s) {
      out.u8(SUMMARY);
      out.nonce(s.nonce());
      summary(out, s.summary());
    } else if (message instanceof SyncMessage.Symbols s) {
      int w = s.width();
      out.u8(w == 4 ? SYMBOLS : COMPACT_SYMBOLS);
      out.u64(s.first());
      out.u32(s.size());
      for (int i = 0; i < s.size(); i++) {
        for (int l = 0; l < w; l++) {
          out.u64(s.sums()[w * i + l]);
        }
        if (w == 4) {
          out.u64(s.checksums()[i]);
        } else {
          out.u32(s.checksums()[i]);
        }
        out.varint((s.countDeltas()[i] << 1) ^ (s.countDeltas()[i] >> 63));
      }
    } else if (message instanceof SyncMessage.Bloom b) {
      out.u8(BLOOM);
      out.u32(b.round());
      out.u8(b.probes());
      out.u32(b.bits());
      out.bytes(b.data());
    } else if (message instanceof SyncMessage.Records r) {
      out.u8(RECORDS);
      out.u32(r.records().size());
      for (SyncRecord rec : r.records()) {
        out.hash(rec.id());
        out.u8(rec.parents().size());
        for (Hash p : rec.parents()) {
          out.hash(p);
        }
      }
    } else if (message instanceof SyncMessage.WantIds w) {
      out.u8(WANT_IDS);
      out.u32(w.ids().size());
      for (Hash id : w.ids()) {
        out.hash(id);
      }
    } else if (message instanceof SyncMessage.WantChecksums w) {
      out.u8(WANT_CHECKSUMS);
      out.u32(w.checksums().length);
      for (long c : w.checksums()) {
        out.u64(c);
      }
    } else if (message instanceof SyncMessage.Heads h) {
      out.u8(HEADS);
      out.u16(h.heads().size());
      for (Hash id : h.heads()) {
        out.hash(id);
      }
    } else if (message instanceof SyncMessage.Done d) {
      out.u8(DONE);
      out.u64(d.count());
      out.hash(d.fingerprint());
    }
    return out.toByteArray();
  }

  private static void summary(Out out, SyncMessage.Summary s) {
    out.u64(s.count());
    out.hash(s.fingerprint());
    out.u16(s.heads().size());
    for (Hash h : s.heads()) {
      out.hash(h);
    }
  }

  // ---------------------------------------------------------------- decoding

  public static List<SyncMessage> decodeTurn(byte[] bytes, SyncLimits limits) {
    if (bytes.length > limits.maxTurnBytes()) {
      throw new SyncProtocolException("turn of " + bytes.length + " bytes exceeds " + limits.maxTurnBytes());
    }
    In in = new In(bytes, 0, bytes.length);
    int n = in.u8();
    if (n > limits.maxMessages()) {
      throw new SyncProtocolException(n + " messages in one turn, at most " + limits.maxMessages());
    }
    List<SyncMessage> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      long len = in.u32();
      if (len > in.remaining()) {
        throw new SyncProtocolException("message of " + len + " bytes but only " + in.remaining() + " left");
      }
      out.add(decode(bytes, in.position(), (int) len, limits));
      in.skip((int) len);
    }
    in.end();
    return out;
  }

  public static SyncMessage decode(byte[] bytes, int offset, int length, SyncLimits limits) {
    In in = new In(bytes, offset, length);
    int type = in.u8();
    SyncMessage m = switch (type) {
      case HELLO -> {
        int version = in.u8();
        if (version != VERSION) {
          throw new SyncProtocolException("unknown version " + version);
        }
        Hash capsule = in.hash();
        byte[] nonce = in.bytes(NONCE_BYTES);
        int mode = in.u8();
        if (mode > SyncMessage.MODE_RIBLT_PAIRED) {
          throw new SyncProtocolException("unknown mode " + mode);
        }
        yield new SyncMessage.Hello(capsule, nonce, mode, summary(in, limits));
      }
      case SUMMARY -> new SyncMessage.SummaryReply(in.bytes(NONCE_BYTES), summary(in, limits));
      case SYMBOLS, COMPACT_SYMBOLS -> {
        int w = type == SYMBOLS ? 4 : 1;
        long first = in.u64();
        long n = in.u32();
        if (first < 0 || n == 0 || n > limits.maxBatchSymbols()) {
          throw new SyncProtocolException("bad symbol run: first " + first + ", " + n + " symbols");
        }
        in.need(n * (w == 4 ? 41 : 13));
        int size = (int) n;
        long[] sums = new long[w * size];
        long[] checks = new long[size];
        long[] deltas = new long[size];
        for (int i = 0; i < size; i++) {
          for (int l = 0; l < w; l++) {
            sums[w * i + l] = in.u64();
          }
          checks[i] = w == 4 ? in.u64() : in.u32();
          long z = in.varint();
          deltas[i] = (z >>> 1) ^ -(z & 1);
        }
        yield new SyncMessage.Symbols(first, w, sums, checks, deltas);
      }
      case BLOOM -> {
        int round = (int) in.u32();
        int probes = in.u8();
        long bits = in.u32();
        if (round < 0 || probes < 1 || probes > 32 || bits < 8 || bits > limits.maxBloomBits()
            || bits > BloomFilter.MAX_BITS) {
          throw new SyncProtocolException("bad Bloom filter: round " + round + ", " + probes + " probes, "
              + bits + " bits");
        }
        byte[] data = in.bytes((int) ((bits + 7) / 8));
        yield new SyncMessage.Bloom(round, probes, bits, data);
      }
      case RECORDS -> {
        long n = in.u32();
        if (n > limits.maxRecords()) {
          throw new SyncProtocolException(n + " records, at most " + limits.maxRecords());
        }
        in.need(n * 65);
        List<SyncRecord> records = new ArrayList<>((int) n);
        for (long i = 0; i < n; i++) {
          Hash id = in.hash();
          int p = in.u8();
          if (p == 0) {
            throw new SyncProtocolException("a record with no parents");
          }
          in.need(32L * p);
          List<Hash> parents = new ArrayList<>(p);
          for (int j = 0; j < p; j++) {
            parents.add(in.hash());
          }
          records.add(new SyncRecord(id, parents));
        }
        yield new SyncMessage.Records(records);
      }
      case WANT_IDS -> {
        long n = in.u32();
        if (n > limits.maxWants()) {
          throw new SyncProtocolException(n + " wanted ids, at most " + limits.maxWants());
        }
        yield new SyncMessage.WantIds(sortedHashes(in, (int) n));
      }
      case WANT_CHECKSUMS -> {
        long n = in.u32();
        if (n > limits.maxWants()) {
          throw new SyncProtocolException(n + " wanted checksums, at most " + limits.maxWants());
        }
        in.need(8 * n);
        long[] c = new long[(int) n];
        for (int i = 0; i < n; i++) {
          c[i] = in.u64();
          if (i > 0 && Long.compareUnsigned(c[i - 1], c[i]) >= 0) {
            throw new SyncProtocolException("wanted checksums not strictly ascending");
          }
        }
        yield new SyncMessage.WantChecksums(c);
      }
      case DONE -> {
        long count = in.u64();
        if (count < 0) {
          throw new SyncProtocolException("count out of range");
        }
        yield new SyncMessage.Done(count, in.hash());
      }
      case HEADS -> {
        int n = in.u16();
        if (n > limits.maxHeads()) {
          throw new SyncProtocolException(n + " heads, at most " + limits.maxHeads());
        }
        yield new SyncMessage.Heads(sortedHashes(in, n));
      }
      default -> throw new SyncProtocolException("unknown message type " + type);
    };
    in.end();
    return m;
  }

  private static SyncMessage.Summary summary(In in, SyncLimits limits) {
    long count = in.u64();
    if (count < 0) {
      throw new SyncProtocolException("count out of range");
    }
    Hash fp = in.hash();
    int heads = in.u16();
    if (heads > limits.maxHeads()) {
      throw new SyncProtocolException(heads + " heads, at most " + limits.maxHeads());
    }
    return new SyncMessage.Summary(count, fp, sortedHashes(in, heads));
  }

  private static List<Hash> sortedHashes(In in, int n) {
    in.need(32L * n);
    List<Hash> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Hash h = in.hash();
      if (i > 0 && out.get(i - 1).compareTo(h) >= 0) {
        throw new SyncProtocolException("hashes not strictly ascending");
      }
      out.add(h);
    }
    return out;
  }

  /** Bytes of a turn apart from the records' own bytes: ids, parents and message framing count as record bytes. */
  public static long recordBytes(List<SyncMessage> turn) {
    long total = 0;
    for (SyncMessage m : turn) {
      if (m instanceof SyncMessage.Records r) {
        total += 5; // type and count
        for (SyncRecord rec : r.records()) {
          total += 33 + 32L * rec.parents().size();
        }
      }
    }
    return total;
  }

  private static final class Out extends ByteArrayOutputStream {
    void u8(int v) {
      write(v);
    }

    void u16(int v) {
      write(v >>> 8);
      write(v);
    }

    void u32(long v) {
      for (int s = 24; s >= 0; s -= 8) {
        write((int) (v >>> s));
      }
    }

    void u64(long v) {
      for (int s = 56; s >= 0; s -= 8) {
        write((int) (v >>> s));
      }
    }

    void varint(long v) {
      while ((v & ~0x7fL) != 0) {
        write((int) ((v & 0x7f) | 0x80));
        v >>>= 7;
      }
      write((int) v);
    }

    void hash(Hash h) {
      write(h.toByteArray(), 0, 32);
    }

    void nonce(byte[] n) {
      if (n.length != NONCE_BYTES) {
        throw new IllegalArgumentException("a nonce is 16 bytes");
      }
      write(n, 0, n.length);
    }

    void bytes(byte[] b) {
      write(b, 0, b.length);
    }
  }

  private static final class In {
    private final byte[] b;
    private int pos;
    private final int end;

    In(byte[] b, int offset, int length) {
      this.b = b;
      this.pos = offset;
      this.end = offset + length;
    }

    int remaining() {
      return end - pos;
    }

    int position() {
      return pos;
    }

    void need(long n) {
      if (n > end - pos) {
        throw new SyncProtocolException("needs " + n + " more bytes, " + (end - pos) + " left");
      }
    }

    void skip(int n) {
      need(n);
      pos += n;
    }

    int u8() {
      need(1);
      return b[pos++] & 0xff;
    }

    int u16() {
      need(2);
      int v = (b[pos] & 0xff) << 8 | (b[pos + 1] & 0xff);
      pos += 2;
      return v;
    }

    long u32() {
      need(4);
      long v = 0;
      for (int i = 0; i < 4; i++) {
        v = v << 8 | (b[pos++] & 0xff);
      }
      return v;
    }

    long u64() {
      need(8);
      long v = 0;
      for (int i = 0; i < 8; i++) {
        v = v << 8 | (b[pos++] & 0xff);
      }
      return v;
    }

    long varint() {
      long v = 0;
      for (int i = 0; i < 10; i++) {
        int x = u8();
        if (i == 9 && x > 1) {
          throw new SyncProtocolException("varint overflows 64 bits");
        }
        v |= (long) (x & 0x7f) << (7 * i);
        if ((x & 0x80) == 0) {
          if (x == 0 && i > 0) {
            throw new SyncProtocolException("non-minimal varint");
          }
          return v;
        }
      }
      throw new SyncProtocolException("varint longer than 10 bytes");
    }

    Hash hash() {
      need(32);
      Hash h = Hash.copyOf(b, pos, 32);
      pos += 32;
      return h;
    }

    byte[] bytes(int n) {
      need(n);
      byte[] out = java.util.Arrays.copyOfRange(b, pos, pos + n);
      pos += n;
      return out;
    }

    void end() {
      if (pos != end) {
        throw new SyncProtocolException((end - pos) + " trailing bytes");
      }
    }
  }
}
