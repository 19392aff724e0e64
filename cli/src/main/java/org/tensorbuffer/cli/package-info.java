/**
 * The {@code tensorbuffer} command line (picocli): {@code compare}, {@code decode}, {@code einsum}, {@code plan},
 * {@code bench}, {@code devices}; {@link org.tensorbuffer.cli.Main} is the entry point. Not a library API.
 */
package org.tensorbuffer.cli;
