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
  /**
   * Messages that set two lists of heads side by side: the renter's, when a write's proposed heads are not
   * the ones it computed (OutputVerifier), and the host's, when a program leaves other heads than the
   * renter stated (a refused write).
   */
  private static final List<Shape> SHAPES = List.of(
      new Shape(Pattern.compile("(.*)the proposed heads are \\[([0-9a-f, ]*)\\], the renter expects \\[([0-9a-f, ]*)\\](.*)"),
          "the heads the host proposed are not the ones the renter computed", "proposed", "expected"),
      new Shape(Pattern.compile("(.*)the program leaves the heads \\[([0-9a-f, ]*)\\], the renter stated \\[([0-9a-f, ]*)\\](.*)"),
          "the heads the program leaves are not the ones the renter stated", "leaves", "stated"));

  private record Shape(Pattern pattern, String summary, String labelA, String labelB) {}

  /** Digits shown from the start at least; a difference further in is shown in a window. */
  private static final int SHOWN = 16;
  /** The first digits kept before a window. */
  private static final int PREFIX = 8;
  /** Digits shown before and after the first difference in a window. */
  private static final int BEFORE = 8;
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
   * Three lines: {@code labelA a}, {@code labelB b} and a caret under the first difference naming its
   * position (from 1); or the two lines alone when they are equal. Each string is cut to the digits around
   * the difference: its start, and when the difference lies further in, its first 8 digits, {@code ...},
   * and the 8 before the difference; then up to 4 after it.
   */
  static List<String> mark(String indent, String labelA, String a, String labelB, String b) {
    int width = Math.max(labelA.length(), labelB.length());
    int at = firstDifference(a, b);
    int start = at >= SHOWN ? at - BEFORE : 0;
    int end = at < 0 ? SHOWN : start == 0 ? Math.max(SHOWN, at + 1 + AFTER) : at + 1 + AFTER;
    List<String> out = new ArrayList<>();
    out.add(indent + pad(labelA, width) + "  " + window(a, start, end));
    out.add(indent + pad(labelB, width) + "  " + window(b, start, end));
    if (at >= 0) {
      int column = width + 2 + (start == 0 ? 0 : PREFIX + 3) + at - start;
      out.add(indent + " ".repeat(column) + "^ hex digit " + (at + 1) + " of " + Math.max(a.length(), b.length())
          + " differs");
    }
    return out;
  }

  /** {@code hex} from {@code start} to {@code end}, its first digits and {@code ...} before, {@code ...} after when cut. */
  private static String window(String hex, int start, int end) {
    String head = start == 0 ? "" : hex.substring(0, Math.min(PREFIX, hex.length())) + "...";
    int from = Math.min(start, hex.length());
    int to = Math.min(end, hex.length());
    return head + hex.substring(from, to) + (to < hex.length() ? "..." : "");
  }

  /**
   * A message that sets two lists of heads side by side ({@link #SHAPES}) as its words with the lists
   * replaced by a summary and, under it, each differing pair of heads marked ({@link #mark}); any other
   * message as it is.
   */
  static List<String> headsMessage(String indent, String message) {
    for (Shape shape : SHAPES) {
      Matcher m = shape.pattern().matcher(message);
      if (!m.matches()) {
        continue;
      }
      String[] a = m.group(2).split(",\\s*", -1);
      String[] b = m.group(3).split(",\\s*", -1);
      List<String> out = new ArrayList<>();
      out.add(indent + m.group(1) + shape.summary() + m.group(4));
      for (int i = 0; i < Math.max(a.length, b.length); i++) {
        out.addAll(mark(indent + "  ", shape.labelA(), i < a.length ? a[i] : "(none)", shape.labelB(),
            i < b.length ? b[i] : "(none)"));
      }
      return out;
    }
    return List.of(indent + message);
  }

  private static String pad(String s, int width) {
    return s + " ".repeat(width - s.length());
  }
}
