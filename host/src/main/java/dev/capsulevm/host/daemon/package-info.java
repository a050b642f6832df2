/**
 * The operator's entry point: {@link dev.capsulevm.host.daemon.HostCommand}, {@code capsulevm host},
 * which reads the settings (defaults, a properties file, flags) and runs a host until it is stopped.
 */
@NullMarked
package dev.capsulevm.host.daemon;

import org.jspecify.annotations.NullMarked;
