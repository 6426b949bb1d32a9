//! heartline-probe
