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
    assertEquals("a  00000000...000000001", lines.get(0));
    assertEquals("b  00000000...000000000", lines.get(1));
    assertEquals(lines.get(0).length() - 1, lines.get(2).indexOf('^'));
    assertEquals(true, lines.get(2).endsWith("^ hex digit 64 of 64 differs"));
  }

  @Test
  void theHeadsMessageIsSplitAndOtherMessagesKept() {
    String h1 = "ab".repeat(32);
    String h2 = "ab".repeat(16) + "cb" + "ab".repeat(15);
    List<String> lines = HexDiff.headsMessage(" ", "caught: host misbehaviour in output 0: the proposed heads are ["
        + h1 + "], the renter expects [" + h2 + "]");
    assertEquals(" caught: host misbehaviour in output 0: the heads the host proposed are not the ones the renter"
        + " computed", lines.get(0));
    List<String> refused = HexDiff.headsMessage("", "refused: the program leaves the heads [" + h1
        + "], the renter stated [" + h2 + "]; nothing was written");
    assertEquals("refused: the heads the program leaves are not the ones the renter stated; nothing was written",
        refused.get(0));
    assertEquals(true, refused.get(1).equals("  leaves  " + h1.substring(0, 8) + "..." + h1.substring(24, 37) + "..."), refused.get(1));
    assertEquals(true, refused.get(3).endsWith("^ hex digit 33 of 64 differs"), refused.get(3));
    assertEquals(4, lines.size());
    assertEquals(List.of(" something else"), HexDiff.headsMessage(" ", "something else"));
    assertEquals(-1, HexDiff.firstDifference(h1, h1));
  }
}
