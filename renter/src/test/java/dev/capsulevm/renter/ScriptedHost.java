package dev.capsulevm.renter;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Fixtures;
import dev.capsulevm.pricing.BudgetExceededException;
import dev.capsulevm.pricing.CostBreakdown;
import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.pricing.SignedWithdrawal;
import dev.capsulevm.pricing.Withdrawal;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputBounds;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofCache;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.Failure;
import dev.capsulevm.proto.v1.FailureReason;
import dev.capsulevm.proto.v1.InstructionResult;
import dev.capsulevm.proto.v1.ProgramEnd;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * An honest host's side of programs, played by a test without any host: it meters each program with the
 * pricing {@link Meter} as a host does (every request message charged as it arrives, each instruction at
 * the bound the protocol defines, each output's response message with its transcript leaf), signs the
 * receipt, and hands each message to the renter's {@link ProgramRun} in the test thread. A test that plays
 * a lying host changes the messages, or re-signs a changed receipt with the host's key.
 */
final class ScriptedHost {
  static final Instant NOW = Instant.parse("2026-12-03T12:00:00Z");

  final SigningKey hostKey = SigningKey.generate();
  final SigningKey account = SigningKey.generate();
  final Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
  final PriceTable table = table(hostKey);
  final ProofCache cache = new ProofCache(10_000);
  final ProofVerifier verifier = new ProofVerifier(cache);
  /** Whether the renter's programs confirm commits after a proposal instead of stating their heads. */
  boolean confirmCommits;

  static PriceTable table(SigningKey hostKey) {
    return new PriceTable(hostKey.publicKey(), NOW.minusSeconds(3600), NOW.plusSeconds(3600), Fixtures.examplePrices(),
        new Limits(1 << 20, 1000, 1 << 20, 10_000, 16, Amount.ofCap(1_000_000)));
  }

  /** A session for {@code program} with the renter's estimate as its budget. */
  Session start(PreparedProgram program) {
    return start(program, null);
  }

  Session start(PreparedProgram program, Amount budgetOrNull) {
    return new Session(program, budgetOrNull);
  }

  /** The bound an honest host charges for {@code output} of {@code instruction} (the envelope included). */
  static long honestBound(Instruction instruction, Output output, long maxSubRecordBytes, long viewHeads) {
    long envelope = WireSizes.OUTPUT_ENVELOPE_BYTES;
    if (output instanceof Output.CapsuleCreated) {
      return OutputBounds.CREATE_CAPSULE + envelope;
    }
    if (output instanceof Output.Appended) {
      return -1; // the test says how many heads the host's view held: see Session.append
    }
    if (output instanceof Output.SubRecord s) {
      return 4 + maxSubRecordBytes + OutputBounds.proof(s.proof().recordProof(), true) + envelope;
    }
    if (output instanceof Output.Proof p) {
      RecordProof path = p.recordProofOrNull() != null ? p.recordProofOrNull() : p.subRecordProofOrNull().recordProof();
      return OutputBounds.proof(path, p.subRecordProofOrNull() != null) + envelope;
    }
    if (output instanceof Output.Has h) {
      return OutputBounds.hasRecord(h.headerOrNull()) + envelope;
    }
    if (output instanceof Output.ByHash b) {
      return OutputBounds.readByHash(b.recordOrNull()) + envelope;
    }
    if (output instanceof Output.Metadata m) {
      return OutputBounds.metadata(m.signedMetadata().encoded().length) + envelope;
    }
    long out = 4;
    for (Record head : ((Output.Heads) output).heads()) {
      out += OutputBounds.head(head.header());
    }
    return out + envelope;
  }

  /** One program: the renter's run, the host's meter, and what the renter sent. */
  final class Session {
    final PreparedProgram program;
    final ProgramRun run;
    final Meter meter;
    final List<ExecuteRequest> fromRenter = new ArrayList<>();
    boolean cancelled;
    private int next;

    private Session(PreparedProgram program, Amount budgetOrNull) {
      this.program = program;
      long duration = 1;
      int chunkSize = 64 * 1024;
      CostBreakdown estimate = dev.capsulevm.pricing.CostModel.of(table).estimate(
          HostClient.shape(program, table, duration, chunkSize, confirmCommits));
      Amount budget = budgetOrNull == null ? estimate.total() : budgetOrNull;
      SignedWithdrawal withdrawal = new Withdrawal(account.publicKey(), budget, 7, NOW.plusSeconds(60), table.id(),
          hostKey.publicKey()).sign(account);
      Payment payment = Payment.withdrawal(withdrawal);
      List<ExecuteRequest> requests = ProgramRun.requests(program, table.id(), payment, duration, chunkSize,
          HostClient.statedHeads(program, confirmCommits));
      run = new ProgramRun(program, table, verifier, budget, duration, payment, requests, estimate, null, null,
          clock);
      try {
        meter = Meter.open(table, run.programId(), program.program().capsuleIdOrNull(), budget,
            program.encodedLength(), duration, (amount, id) -> { }, clock);
      } catch (BudgetExceededException e) {
        throw new IllegalStateException(e);
      }
      run.start(new StreamObserver<>() {
        @Override
        public void onNext(ExecuteRequest request) {
          fromRenter.add(request);
          if (!request.hasDecision()) {
            try {
              meter.chargeUpload(request.getSerializedSize());
            } catch (BudgetExceededException e) {
              throw new IllegalStateException(e);
            }
          }
        }

        @Override
        public void onError(Throwable t) {
          cancelled = true;
        }

        @Override
        public void onCompleted() {}
      });
    }

    /** The honest result of the next instruction, at the bound an honest host charges for it. */
    ExecuteResponse result(Output output) {
      Instruction instruction = program.steps().get(next).instruction();
      return result(output, honestBound(instruction, output,
          program.steps().get(next).metadataOrNull() == null ? 0
              : program.steps().get(next).metadataOrNull().metadata().maxSubRecordBytes(), 0));
    }

    /** The honest result of an append whose host view held {@code viewHeads} heads before it. */
    ExecuteResponse append(List<Hash> headsAfter, long viewHeads) {
      Instruction.AppendRecord append = (Instruction.AppendRecord) program.steps().get(next).instruction();
      long records = program.steps().get(next).appendedOrNull().records().size();
      return result(new Output.Appended(headsAfter),
          OutputBounds.append(viewHeads, records) + WireSizes.OUTPUT_ENVELOPE_BYTES);
    }

    /** The result of the next instruction charged at {@code bound}: charged, then sent with its leaf. */
    ExecuteResponse result(Output output, long bound) {
      int index = next++;
      ProgramBuilder.Step step = program.steps().get(index);
      Instruction instruction = step.instruction();
      try {
        meter.chargeInstruction(new InstructionDescriptor(instruction.kind(), instruction.inputBytes(), bound,
            step.storageBytes()));
        byte[] bytes = OutputEncoding.encode(output);
        ExecuteResponse response = ExecuteResponse.newBuilder().setResult(InstructionResult.newBuilder()
            .setIndex(index).setCostSoFar(meter.charged().total().units()).setOutput(ByteString.copyFrom(bytes))
            .setMaxOutputBytes(bound)).build();
        meter.chargeOutput(response.getSerializedSize(), Transcript.leaf(index, instruction, program.inputs(index),
            bytes));
        return response;
      } catch (BudgetExceededException e) {
        throw new IllegalStateException(e);
      }
    }

    /** Charges the next instruction at {@code bound} and sends nothing: it fails while running. */
    void chargeWithoutOutput(long bound) {
      int index = next++;
      ProgramBuilder.Step step = program.steps().get(index);
      Instruction instruction = step.instruction();
      try {
        meter.chargeInstruction(new InstructionDescriptor(instruction.kind(), instruction.inputBytes(), bound,
            step.storageBytes()));
      } catch (BudgetExceededException e) {
        throw new IllegalStateException(e);
      }
    }

    /** Delivers a message to the renter, as its gRPC thread would. */
    Session send(ExecuteResponse response) {
      run.responses().onNext(response);
      return this;
    }

    /** The commit proposal of a read-write program leaving {@code heads}. */
    ExecuteResponse proposal(List<Hash> heads) {
      var proposal = dev.capsulevm.proto.v1.CommitProposal.newBuilder().setCost(meter.charged().total().units());
      heads.forEach(h -> proposal.addHeads(ByteString.copyFrom(h.toByteArray())));
      return ExecuteResponse.newBuilder().setProposal(proposal).build();
    }

    /** Whether the program's header states the heads it leaves (then an honest host sends no proposal). */
    boolean headsStated() {
      return fromRenter.get(0).getHeader().getExpectedHeadsCount() > 0;
    }

    /** An honest commit of {@code heads}: the proposal when the renter confirms commits, then the end. */
    Session commit(List<Hash> heads) {
      if (!headsStated()) {
        send(proposal(heads));
      }
      return send(committed(heads));
    }

    /** The renter's decision on the proposal, or null when it sent none. */
    Boolean decision() {
      for (ExecuteRequest request : fromRenter) {
        if (request.hasDecision()) {
          return request.getDecision().getConfirm();
        }
      }
      return null;
    }

    /** The end of a read-only program that completed. */
    ExecuteResponse completed() {
      return end(meter.close(), List.of(), null);
    }

    /** The end of a read-write program that committed {@code heads}. */
    ExecuteResponse committed(List<Hash> heads) {
      return end(meter.closeThrough(heads, (refund, id) -> { }), heads, null);
    }

    /** The end of a program that failed, as a host reports it. */
    ExecuteResponse failed(int instruction, FailureReason reason, String message, long unsentBound) {
      meter.fail(instruction, reason.getNumber(), message);
      return end(meter.close(), List.of(), Failure.newBuilder().setInstruction(instruction).setReason(reason)
          .setMessage(Receipt.truncateMessage(message)).setMaxOutputBytes(unsentBound).build());
    }

    private ExecuteResponse end(Receipt receipt, List<Hash> heads, Failure failureOrNull) {
      ProgramEnd.Builder end = ProgramEnd.newBuilder().setSignedReceipt(ByteString.copyFrom(
          receipt.sign(hostKey).encode()));
      heads.forEach(h -> end.addCommittedHeads(ByteString.copyFrom(h.toByteArray())));
      if (failureOrNull != null) {
        end.setFailure(failureOrNull);
      }
      return ExecuteResponse.newBuilder().setEnd(end).build();
    }

    /** {@code end} with its receipt changed by {@code change} and signed again by the host's own key. */
    ExecuteResponse resigned(ExecuteResponse end, UnaryOperator<Receipt> change) {
      return resigned(end, change, hostKey);
    }

    ExecuteResponse resigned(ExecuteResponse end, UnaryOperator<Receipt> change, SigningKey signer) {
      try {
        Receipt receipt = SignedReceipt.parse(end.getEnd().getSignedReceipt().toByteArray()).receipt();
        return end.toBuilder().setEnd(end.getEnd().toBuilder().setSignedReceipt(ByteString.copyFrom(
            change.apply(receipt).sign(signer).encode()))).build();
      } catch (dev.capsulevm.proofs.VerificationException e) {
        throw new IllegalStateException(e);
      }
    }

    /** The run's verified result (no client: no follow-up runs). */
    ProgramResult result() throws RenterException {
      return run.result();
    }
  }

  /** A copy of {@code r} with other fields, for tests that forge receipts. */
  static Receipt with(Receipt r, Instant issuedAt, int outputCount, Hash transcriptRoot, Receipt.End end) {
    return new Receipt(r.hostKey(), issuedAt, r.programId(), r.priceTableId(), r.capsuleIdOrNull(), r.budget(),
        r.instructionsCharged(), r.uploadBytes(), r.downloadBytes(), r.cost(), r.refund(), outputCount,
        transcriptRoot, end);
  }
}
