package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * docs/FORMAT.md as tests see it: its {@code vector NAME = HEX} lines, and the byte tables and hex blocks
 * of its worked examples, which tests regenerate from the code's bytes and require verbatim in the
 * document. Public in pricing's test-jar for program's format examples; run from a module directory.
 */
public final class FormatDocument {
  private static final Path PATH = Path.of("..", "docs", "FORMAT.md");

  private FormatDocument() {}

  /** One field of a layout: its size in bytes and how the table names it. */
  public record Field(int size, String name) {}

  /** The document's text. */
  public static String text() {
    try {
      return Files.readString(PATH);
    } catch (IOException e) {
      throw new UncheckedIOException("docs/FORMAT.md is part of the project", e);
    }
  }

  /** Every {@code vector NAME = VALUE} line, by name. */
  public static Map<String, String> vectors() {
    Map<String, String> vectors = new LinkedHashMap<>();
    for (String line : text().split("\n", -1)) {
      if (line.startsWith("vector ")) {
        int eq = line.indexOf(" = ");
        vectors.put(line.substring(7, eq).trim(), line.substring(eq + 3).trim());
      }
    }
    return vectors;
  }

  /** The {@code vector} lines of {@code computed}, as the document writes them. */
  public static String vectorLines(Map<String, String> computed) {
    StringBuilder out = new StringBuilder();
    computed.forEach((name, value) -> out.append("vector ").append(name).append(" = ").append(value).append('\n'));
    return out.toString();
  }

  /**
   * The table rows of {@code bytes} cut into {@code fields}: offset, size, name and the field's hex. The
   * sizes must add up to the length of {@code bytes}.
   */
  public static String rows(byte[] bytes, List<Field> fields) {
    StringBuilder out = new StringBuilder();
    int offset = 0;
    for (Field f : fields) {
      String hex = f.size() == 0 ? "(none)" : "`" + HexFormat.of().formatHex(bytes, offset, offset + f.size()) + "`";
      out.append("| ").append(offset).append(" | ").append(f.size()).append(" | ").append(f.name()).append(" | ")
          .append(hex).append(" |\n");
      offset += f.size();
    }
    assertEquals(bytes.length, offset, "the fields cover the bytes exactly");
    return out.toString();
  }

  /** {@code bytes} as hex in lines of 64 digits, inside a fenced block. */
  public static String hexBlock(byte[] bytes) {
    String hex = HexFormat.of().formatHex(bytes);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < hex.length(); i += 64) {
      lines.add(hex.substring(i, Math.min(hex.length(), i + 64)));
    }
    return "```\n" + String.join("\n", lines) + "\n```\n";
  }

  /** Requires {@code fragment} to appear verbatim in the document. */
  public static void assertContains(String what, String fragment) {
    assertTrue(text().contains(fragment), "docs/FORMAT.md lacks the " + what + ", which the code now gives as:\n"
        + fragment);
  }

  /** Field helper. */
  public static Field field(int size, String name) {
    return new Field(size, name);
  }
}
