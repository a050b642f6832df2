package dev.capsulevm.vm.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.Test;

class OutputEncodingTest {
  /** Runs a program with every instruction kind (and both answers of the lookups) and returns it with its outputs. */
  private static List<InstructionOutput> runEveryKind(Program[] programOut) throws Exception {
    CapsuleFixture f = new CapsuleFixture("output-encoding");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 5);
    RecordWithBody r2 = f.record(r1.hash(), "two");
    ExecFixture.Builder b = new ExecFixture.Builder(f.id());
    DataRef anchor = b.put(r2.hash());
    DataRef r1Hash = b.put(r1.hash());
    DataRef unknown = b.put(Hash.copyOf(new byte[32]));
    b.add(new Instruction.CreateCapsule(b.put(f.metadata.encoded())))
        .add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(r1, r2)))))
        .add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(r1Hash), 4, anchor))
        .add(Instruction.Prove.record(anchor, new RecordSelector.ByHeight(1)))
        .add(new Instruction.Prove(anchor, new RecordSelector.ByHash(r1Hash), 3))
        .add(new Instruction.HasRecord(unknown))
        .add(new Instruction.ReadByHash(unknown))
        .add(new Instruction.Heads())
        .add(new Instruction.Metadata());
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try {
      InMemoryCapsuleStorage storage = new InMemoryCapsuleStorage();
      Executor executor = new Executor(storage, new SettableClock(ExecFixture.START), Duration.ofMinutes(1),
          Duration.ofSeconds(5), ExecFixture.ENVELOPE, ExecFixture.HOST, scheduler);
      List<InstructionOutput> outputs = new ArrayList<>();
      ((PendingCommit) executor.run(b.program(), b.data(), b.meter(), outputs::add)).confirm();
      // Committed now, so the cross-capsule lookups find r1.
      ExecFixture.Builder lookups = new ExecFixture.Builder(null);
      DataRef held = lookups.put(r1.hash());
      lookups.add(new Instruction.HasRecord(held)).add(new Instruction.ReadByHash(held));
      List<InstructionOutput> more = new ArrayList<>();
      executor.run(lookups.program(), lookups.data(), lookups.meter(), more::add);
      outputs.addAll(more);
      List<Instruction> all = new ArrayList<>(b.program().instructions());
      all.addAll(lookups.program().instructions());
      programOut[0] = new Program(f.id(), all, b.program().dataLength());
      return outputs;
    } finally {
      scheduler.shutdownNow();
    }
  }

  @Test
  void everyOutputKindRoundTripsExactly() throws Exception {
    Program[] program = new Program[1];
    List<InstructionOutput> outputs = runEveryKind(program);
    assertEquals(11, outputs.size());
    for (int i = 0; i < outputs.size(); i++) {
      Instruction instruction = program[0].instructions().get(i);
      byte[] encoded = OutputEncoding.encode(outputs.get(i).output());
      Output decoded = OutputEncoding.decode(instruction, encoded);
      assertEquals(outputs.get(i).output().getClass(), decoded.getClass());
      assertArrayEquals(encoded, OutputEncoding.encode(decoded), "output " + i + " re-encodes identically");
    }
    Output.Has held = assertInstanceOf(Output.Has.class,
        OutputEncoding.decode(program[0].instructions().get(9), OutputEncoding.encode(outputs.get(9).output())));
    assertTrue(held.held());
  }

  @Test
  void everyTruncationAndEveryTrailingByteIsRefused() throws Exception {
    Program[] program = new Program[1];
    List<InstructionOutput> outputs = runEveryKind(program);
    for (int i = 0; i < outputs.size(); i++) {
      Instruction instruction = program[0].instructions().get(i);
      byte[] encoded = OutputEncoding.encode(outputs.get(i).output());
      for (int cut = 0; cut < encoded.length; cut += Math.max(1, encoded.length / 40)) {
        byte[] truncated = Arrays.copyOf(encoded, cut);
        assertThrows(VerificationException.class, () -> OutputEncoding.decode(instruction, truncated),
            "output " + i + " cut at " + cut);
      }
      byte[] longer = Arrays.copyOf(encoded, encoded.length + 1);
      assertThrows(VerificationException.class, () -> OutputEncoding.decode(instruction, longer));
    }
  }

  @Test
  void theChargedBoundCoversEveryEncodedOutputAndItsEnvelope() throws Exception {
    Program[] program = new Program[1];
    List<InstructionOutput> outputs = runEveryKind(program);
    // The outputs' bounds as charged: describe against the committed capsule, whose state bounds
    // every earlier state of it in this program.
    InMemoryCapsuleStorage storage = new InMemoryCapsuleStorage();
    CapsuleFixture f = new CapsuleFixture("output-encoding");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 5);
    RecordWithBody r2 = f.record(r1.hash(), "two");
    try (var batch = storage.newBatch()) {
      batch.createCapsule(f.metadata);
      batch.putRecord(r1);
      batch.putRecord(r2);
      batch.commit();
    }
    Map<DataRef, byte[]> inputs = new HashMap<>();
    byte[] data = new byte[0];
    StagedView view = new StagedView(f.id(), storage.openSnapshot(f.id()));
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    Executor executor = new Executor(storage, new SettableClock(ExecFixture.START), Duration.ofMinutes(1),
        Duration.ofSeconds(5), ExecFixture.ENVELOPE, ExecFixture.HOST, scheduler);
    try {
      for (int i = 2; i < outputs.size(); i++) {
        Instruction instruction = program[0].instructions().get(i);
        for (DataRef ref : instruction.refs()) {
          inputs.put(ref, inputFor(ref, r1, r2));
        }
        long bound = executor.describe(instruction, inputs, view).maxOutputBytes();
        long actual = OutputEncoding.encode(outputs.get(i).output()).length + ExecFixture.ENVELOPE;
        assertTrue(actual <= bound, "output " + i + ": " + actual + " bytes > bound " + bound);
        if (instruction instanceof Instruction.Prove prove && !prove.isSubRecord()) {
          assertEquals(actual, bound, "a record proof along the primary chain is charged its exact size");
        }
        if (instruction instanceof Instruction.HasRecord || instruction instanceof Instruction.ReadByHash
            || instruction instanceof Instruction.Metadata || instruction instanceof Instruction.Heads) {
          assertEquals(actual, bound, "output " + i + " (" + instruction.kind() + ") is charged its exact size");
        }
      }
    } finally {
      view.close();
      scheduler.shutdownNow();
    }
  }

  /**
   * The hash a ref of the programs above names: in the first program r2 (offset 0), r1 (32) and the
   * unknown hash (64); the lookup program's HasRecord and ReadByHash bounds do not depend on their input.
   */
  private static byte[] inputFor(DataRef ref, RecordWithBody r1, RecordWithBody r2) {
    return switch ((int) ref.offset()) {
      case 0 -> r2.hash().toByteArray();
      case 32 -> r1.hash().toByteArray();
      default -> new byte[32];
    };
  }
}
