/**
 * The {@code capsulevm} command line: picocli subcommands over the renter SDK, the host and the proofs.
 */
@NullMarked
package dev.capsulevm.cli;

import org.jspecify.annotations.NullMarked;
