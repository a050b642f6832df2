package dev.capsulevm.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Shows where two hex strings differ, for a reader who cannot compare 64 digits by eye: both shortened a
 * little past the first difference, one above the other, with a caret under the first differing digit
 * and its position named.
 */
final class HexDiff {
  /** The renter's message when a write's proposed heads are not the ones it computed (OutputVerifier). */
  private static final Pattern HEADS = Pattern.compile(
      "(.*)the proposed heads are \\[([0-9a-f, ]*)\\], the renter expects \\[([0-9a-f, ]*)\\](.*)");
  /** Digits shown before the first difference at least, and after it. */
  private static final int SHOWN = 16;
  private static final int AFTER = 4;

  private HexDiff() {}

  /** The index of the first character where {@code a} and {@code b} differ, or -1 when they are equal. */
  static int firstDifference(String a, String b) {
    int n = Math.min(a.length(), b.length());
    for (int i = 0; i < n; i++) {
      if (a.charAt(i) != b.charAt(i)) {
        return i;
      }
    }
    return a.length() == b.length() ? -1 : n;
  }

  /**
   * Three lines: {@code labelA a...}, {@code labelB b...} and a caret under the first difference naming
   * its position (from 1); or the two lines alone when they are equal.
   */
  static List<String> mark(String indent, String labelA, String a, String labelB, String b) {
    int width = Math.max(labelA.length(), labelB.length());
    int at = firstDifference(a, b);
    int shown = at < 0 ? SHOWN : Math.max(SHOWN, at + 1 + AFTER);
    List<String> out = new ArrayList<>();
    out.add(indent + pad(labelA, width) + "  " + shorten(a, shown));
    out.add(indent + pad(labelB, width) + "  " + shorten(b, shown));
    if (at >= 0) {
      out.add(indent + " ".repeat(width + 2 + at) + "^ hex digit " + (at + 1) + " of " + Math.max(a.length(), b.length())
          + " differs");
    }
    return out;
  }

  /**
   * The renter's "proposed heads are [...], the renter expects [...]" message as a line and, under it, each
   * differing pair of heads marked ({@link #mark}); any other message as it is.
   */
  static List<String> headsMessage(String indent, String message) {
    Matcher m = HEADS.matcher(message);
    if (!m.matches()) {
      return List.of(indent + message);
    }
    String[] proposed = m.group(2).split(",\\s*", -1);
    String[] expected = m.group(3).split(",\\s*", -1);
    List<String> out = new ArrayList<>();
    out.add(indent + m.group(1) + "the heads the host proposed are not the ones the renter computed" + m.group(4) + ":");
    for (int i = 0; i < Math.max(proposed.length, expected.length); i++) {
      String p = i < proposed.length ? proposed[i] : "(none)";
      String e = i < expected.length ? expected[i] : "(none)";
      out.addAll(mark(indent + "  ", "proposed", p, "expected", e));
    }
    return out;
  }

  private static String shorten(String hex, int digits) {
    return hex.length() <= digits ? hex : hex.substring(0, digits) + "...";
  }

  private static String pad(String s, int width) {
    return s + " ".repeat(width - s.length());
  }
}
