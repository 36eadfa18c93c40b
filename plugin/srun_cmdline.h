/*
 * srun_cmdline.h: does srun's own command line ask for --lcr?
 *
 * srun reads SLURM_NO_KILL from its environment before it calls any option callback, so
 * the plugin must know in slurm_spank_init, from /proc/self/cmdline, whether the step
 * wants LCR (see DESIGN.md, "Recovery mechanics"). Only srun's options are scanned: the
 * scan stops at the program name, so a program's own "--lcr" argument is not mistaken for
 * srun's.
 */
#ifndef LCR_PLUGIN_SRUN_CMDLINE_H
#define LCR_PLUGIN_SRUN_CMDLINE_H

/*
 * The value given to --lcr on srun's command line: "on" for a bare --lcr, the text after
 * '=' otherwise (the last one wins), or NULL when --lcr is not among the options. Points
 * into argv. sbatch and salloc take the same options before their operand.
 */
const char *srun_cmdline_lcr_value(int argc, char *const argv[]);

/* The first argument after the options (srun's program, sbatch's script), or NULL. */
const char *srun_cmdline_first_operand(int argc, char *const argv[]);

/* Read /proc/self/cmdline into a NULL-terminated argv (free with free()); NULL on error. */
char **srun_cmdline_read_self(int *argc);

#endif
