package dev.capsulevm.proofs.members;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Recomputes every {@code vector members.*} line of docs/FORMAT.md ("Members"). Run {@link #main} to
 * print them afresh after a deliberate format change.
 */
class MembersFormatTest {
  static Map<String, String> compute() {
    Map<String, String> v = new LinkedHashMap<>();
    HexFormat hex = HexFormat.of();
    PublicKey creator = MemberFixture.key(1);
    PublicKey writer = MemberFixture.key(2);
    PublicKey admin = MemberFixture.key(3);
    PublicKey reader = MemberFixture.key(4);
    v.put("members.key.admin", admin.toHex());
    v.put("members.key.reader", reader.toHex());

    v.put("members.change(set writer 0x03)", hex.formatHex(new MemberChange.SetMember(writer, 0x03).encode()));
    v.put("members.change(remove reader)", hex.formatHex(new MemberChange.SetMember(reader, 0x00).encode()));
    v.put("members.change(keep 1000 heights)",
        hex.formatHex(new MemberChange.SetRetention(RetentionPolicy.keepHeights(1000)).encode()));
    v.put("members.change(rekey)", hex.formatHex(new MemberChange.Rekey().encode()));

    MemberState state = MemberState.genesis(creator, Map.of(admin, 0x13, writer, 0x03));
    v.put("members.genesis.entries",
        state.members().entrySet().stream()
            .map(e -> hex.formatHex(MemberState.entry(e.getKey(), e.getValue())))
            .collect(Collectors.joining(",")));
    v.put("members.genesis.entries-root", state.entriesRoot().toHex());
    v.put("members.genesis.root", state.root().toHex());
    MemberEntryProof proof = state.entryProofOrNull(writer);
    assertNotNull(proof);
    v.put("members.genesis.entry-proof(writer)", hex.formatHex(proof.encode()));
    v.put("members.genesis.with(keep 1000 heights).root",
        state.withRetention(RetentionPolicy.keepHeights(1000)).root().toHex());

    // The fork-and-merge example; record hashes are stand-ins H(0x11 || name).
    Op x1 = new Op(name("x1"), 1, List.of(), admin, new MemberChange.SetMember(reader, 0x03));
    Op y = new Op(name("y"), 2, List.of(x1.hash()), admin, new MemberChange.SetMember(writer, 0x03));
    Op x2 = new Op(name("x2"), 1, List.of(), creator, new MemberChange.SetMember(writer, 0x01));
    Op d = new Op(name("d"), 2, List.of(x2.hash()), creator, new MemberChange.SetMember(admin, 0x03));
    Op m = new Op(name("m"), 3, sorted(d.hash(), y.hash()), creator, new MemberChange.SetMember(reader, 0x01));
    for (Op op : List.of(x1, y, x2, d, m)) {
      v.put("members.example." + label(op, x1, y, x2, d, m) + ".hash", op.hash().toHex());
    }
    Resolution r = Resolver.resolve(state, creator, List.of(x1, y, x2, d, m));
    v.put("members.example.effective",
        r.effective().stream().map(h -> label(h, x1, y, x2, d, m)).collect(Collectors.joining(",")));
    v.put("members.example.void",
        r.voided().stream().map(h -> label(h, x1, y, x2, d, m)).collect(Collectors.joining(",")));
    v.put("members.example.state",
        r.state().members().entrySet().stream()
            .map(e -> who(e.getKey(), creator, writer, admin, reader) + "=" + Rights.hex(e.getValue()))
            .collect(Collectors.joining(",")));
    v.put("members.example.root", r.state().root().toHex());
    return v;
  }

  private static Hash name(String name) {
    return Sha256.hash(Domain.RECORD, name.getBytes(StandardCharsets.UTF_8));
  }

  private static List<Hash> sorted(Hash a, Hash b) {
    return a.compareTo(b) < 0 ? List.of(a, b) : List.of(b, a);
  }

  private static String label(Op op, Op... all) {
    return label(op.hash(), all);
  }

  private static String label(Hash hash, Op... all) {
    String[] names = {"x1", "y", "x2", "d", "m"};
    for (int i = 0; i < all.length; i++) {
      if (all[i].hash().equals(hash)) {
        return names[i];
      }
    }
    throw new AssertionError("no such op " + hash);
  }

  private static String who(PublicKey key, PublicKey creator, PublicKey writer, PublicKey admin, PublicKey reader) {
    return key.equals(creator) ? "creator" : key.equals(writer) ? "writer" : key.equals(admin) ? "admin" : key.equals(reader) ? "reader" : key.toHex();
  }

  @Test
  void formatDocument_membersVectorsMatchTheCode() throws Exception {
    Path doc = Path.of("..", "docs", "FORMAT.md");
    assertTrue(Files.exists(doc), "docs/FORMAT.md is part of the project");
    Map<String, String> documented = new LinkedHashMap<>();
    for (String line : Files.readAllLines(doc)) {
      if (line.startsWith("vector members.")) {
        int eq = line.indexOf(" = ");
        documented.put(line.substring(7, eq).trim(), line.substring(eq + 3).trim());
      }
    }
    assertEquals(compute(), documented);
  }

  public static void main(String[] args) {
    compute().forEach((name, value) -> System.out.println("vector " + name + " = " + value));
  }
}
