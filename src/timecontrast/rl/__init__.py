"""Robot learning on the embedding: rewards, Gymnasium environments and wrappers, RL runs.

``rewards`` holds the pure reward functions (the TCN paper's imitation reward, XIRL's goal
reward, true task rewards from the state) and needs only numpy; the environments and
wrappers need the ``rl`` extra (``pip install -e '.[rl]'``). Submodules are imported on use.
"""
