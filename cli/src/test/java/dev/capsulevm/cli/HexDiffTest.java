package dev.capsulevm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class HexDiffTest {
  @Test
  void theCaretSitsUnderTheFirstDifferingDigit() {
    String a = "df97578da438e3ff171d3efda1de1ef030f2f58388b9dcfdf7dec258126812d8";
    String b = "df97578da438e2ff171d3efda1de1ef030f2f58388b9dcfdf7dec258126812d8";
    List<String> lines = HexDiff.mark("  ", "proposed", a, "expected", b);
    assertEquals(3, lines.size());
    assertEquals("  proposed  df97578da438e3ff17...", lines.get(0));
    assertEquals("  expected  df97578da438e2ff17...", lines.get(1));
    assertEquals(lines.get(0).indexOf("e3ff") + 1, lines.get(2).indexOf('^'));
    assertEquals(true, lines.get(2).endsWith("^ hex digit 14 of 64 differs"));
  }

  @Test
  void aLateDifferenceIsStillShown() {
    String a = "00".repeat(31) + "01";
    String b = "00".repeat(32);
    List<String> lines = HexDiff.mark("", "a", a, "b", b);
    assertEquals(("a  " + a), lines.get(0));
    assertEquals(3 + 63, lines.get(2).indexOf('^'));
  }

  @Test
  void theHeadsMessageIsSplitAndOtherMessagesKept() {
    String h1 = "ab".repeat(32);
    String h2 = "ab".repeat(16) + "cb" + "ab".repeat(15);
    List<String> lines = HexDiff.headsMessage(" ", "caught: host misbehaviour in output 0: the proposed heads are ["
        + h1 + "], the renter expects [" + h2 + "]");
    assertEquals(" caught: host misbehaviour in output 0: the heads the host proposed are not the ones the renter"
        + " computed:", lines.get(0));
    assertEquals(4, lines.size());
    assertEquals(List.of(" something else"), HexDiff.headsMessage(" ", "something else"));
    assertEquals(-1, HexDiff.firstDifference(h1, h1));
  }
}
