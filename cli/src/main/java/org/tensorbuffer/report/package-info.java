/**
 * Self-contained HTML reports with SVG bar charts for the command line: the strategy comparison and the JMH
 * results. Not a library API.
 */
package org.tensorbuffer.report;
