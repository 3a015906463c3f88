"""Export: the student out of tabcompress.

:mod:`.files` writes a run's student and report atomically and loads a student back;
:mod:`.formats` turns a fitted student into a model that runs without tabcompress (ONNX, C, Python),
each written from the student's portable description (:mod:`tabcompress.students.portable`);
:mod:`.convert` does so for a saved student file (``tabcompress export``).
"""

from tabcompress.export.files import (
                                      REPORT_FILE,
                                      STUDENT_FORMATS,
                                      check_out_dir,
                                      check_out_file,
                                      load_student,
                                      output_paths,
                                      remove_stale_temps,
                                      student_file,
                                      trusted_student_types,
                                      write_file_atomic,
                                      write_outputs,
)

__all__ = ["REPORT_FILE", "STUDENT_FORMATS", "check_out_dir", "check_out_file", "load_student", "output_paths",
           "remove_stale_temps", "student_file", "trusted_student_types", "write_file_atomic", "write_outputs"]
