package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Hash;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

/**
 * A deliberately naive, recursive transcription of RFC 9162 section 2.1 (MTH, PATH, PROOF/SUBPROOF)
 * that shares no code with the implementation under test; the tests compare against it.
 */
final class Reference {
  private Reference() {}

  static byte[] sha256(byte[]... parts) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (byte[] part : parts) {
        md.update(part);
      }
      return md.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  static byte[] leaf(byte[] data) {
    return sha256(new byte[] {0x00}, data);
  }

  static byte[] node(byte[] left, byte[] right) {
    return sha256(new byte[] {0x01}, left, right);
  }

  static int split(int n) {
    int k = 1;
    while (k * 2 < n) {
      k *= 2;
    }
    return k;
  }

  /** MTH(D[0:n]) over raw leaf data. */
  static byte[] mth(List<byte[]> d) {
    int n = d.size();
    if (n == 0) {
      return sha256();
    }
    if (n == 1) {
      return leaf(d.get(0));
    }
    int k = split(n);
    return node(mth(d.subList(0, k)), mth(d.subList(k, n)));
  }

  static Hash root(List<byte[]> d) {
    return Hash.copyOf(mth(d));
  }

  /** PATH(m, D[0:n]). */
  static List<Hash> path(int m, List<byte[]> d) {
    int n = d.size();
    List<Hash> out = new ArrayList<>();
    if (n <= 1) {
      return out;
    }
    int k = split(n);
    if (m < k) {
      out.addAll(path(m, d.subList(0, k)));
      out.add(Hash.copyOf(mth(d.subList(k, n))));
    } else {
      out.addAll(path(m - k, d.subList(k, n)));
      out.add(Hash.copyOf(mth(d.subList(0, k))));
    }
    return out;
  }

  /** Whether each sibling of PATH(m, D[0:n]) sits on the left, leaf level first. */
  static List<Boolean> pathShape(long m, long n) {
    List<Boolean> out = new ArrayList<>();
    if (n <= 1) {
      return out;
    }
    long k = Long.highestOneBit(n - 1);
    if (m < k) {
      out.addAll(pathShape(m, k));
      out.add(false);
    } else {
      out.addAll(pathShape(m - k, n - k));
      out.add(true);
    }
    return out;
  }

  /** PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true). */
  static List<Hash> consistency(int m, List<byte[]> d) {
    return subproof(m, d, true);
  }

  private static List<Hash> subproof(int m, List<byte[]> d, boolean b) {
    int n = d.size();
    List<Hash> out = new ArrayList<>();
    if (m == n) {
      if (!b) {
        out.add(Hash.copyOf(mth(d)));
      }
      return out;
    }
    int k = split(n);
    if (m <= k) {
      out.addAll(subproof(m, d.subList(0, k), b));
      out.add(Hash.copyOf(mth(d.subList(k, n))));
    } else {
      out.addAll(subproof(m - k, d.subList(k, n), false));
      out.add(Hash.copyOf(mth(d.subList(0, k))));
    }
    return out;
  }

  /** {@code n} distinct leaves: leaf i is i's 4 big-endian bytes then {@code i % 7} filler bytes. */
  static List<byte[]> leaves(int n) {
    List<byte[]> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      byte[] b = new byte[4 + i % 7];
      b[0] = (byte) (i >>> 24);
      b[1] = (byte) (i >>> 16);
      b[2] = (byte) (i >>> 8);
      b[3] = (byte) i;
      for (int j = 4; j < b.length; j++) {
        b[j] = (byte) (0xa0 + j);
      }
      out.add(b);
    }
    return out;
  }

  static Hash flipBit(Hash h, int bit) {
    byte[] b = h.toByteArray();
    b[(bit >>> 3) % Hash.LENGTH] ^= (byte) (1 << (bit & 7));
    return Hash.copyOf(b);
  }
}
