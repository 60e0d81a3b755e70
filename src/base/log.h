/* log: one line per event, "<time> <level> [tag] message", to stderr. Lower-case messages,
 * no trailing period, quoted subjects (git style). */
#ifndef VR_BASE_LOG_H
#define VR_BASE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;

void vr_log(enum log_level level, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(tag, ...) do { if (log_min_level <= LOG_DEBUG) vr_log(LOG_DEBUG, tag, __VA_ARGS__); } while (0)
#define log_info(tag, ...) vr_log(LOG_INFO, tag, __VA_ARGS__)
#define log_warn(tag, ...) vr_log(LOG_WARN, tag, __VA_ARGS__)
#define log_error(tag, ...) vr_log(LOG_ERROR, tag, __VA_ARGS__)

#endif
